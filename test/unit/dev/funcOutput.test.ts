import { createHostOutputReader, type HostRecordLine } from '../../../dev/funcOutput';

function read(lines: string[]): HostRecordLine[] {
  const out: HostRecordLine[] = [];
  const feed = createHostOutputReader((line) => out.push(line));
  for (const line of lines) feed(line);
  return out;
}

describe("reading the Functions host's console output", () => {
  it("gives the broker's JSON lines exactly as written, with the record's level and category", () => {
    const json = '{"time":"t","level":"info","component":"broker.TokenEndpoint","event":"TokenRequest"}';
    expect(read(['info: Function.token.User[0]', `      ${json}`])).toEqual([
      { level: 'info', category: 'Function.token.User', text: json, json: true },
    ]);
  });

  it('joins a record header to its first line and indents the further ones', () => {
    expect(
      read([
        'info: Host.Startup[0]',
        '      Found the following functions:',
        '      Host.Functions.token',
        'fail: Function.boom[3]',
        "      Executed 'Functions.boom' (Failed)",
      ]).map((line) => [line.level, line.text]),
    ).toEqual([
      ['info', 'info Host.Startup: Found the following functions:'],
      ['info', '  Host.Functions.token'],
      ['fail', "fail Function.boom: Executed 'Functions.boom' (Failed)"],
    ]);
  });

  it('passes lines outside any record (func itself, ASP.NET Core) through', () => {
    expect(read(['func: serving /tmp/x', 'Now listening on: http://127.0.0.1:7071']).map((l) => l.text)).toEqual([
      'func: serving /tmp/x',
      'Now listening on: http://127.0.0.1:7071',
    ]);
  });

  it('keeps a header with no message of its own', () => {
    expect(read(['warn: Host.General[1]', 'info: Host.Startup[2]', '      Host started']).map((l) => l.text)).toEqual([
      'warn Host.General',
      'info Host.Startup: Host started',
    ]);
  });
});
