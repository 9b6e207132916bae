import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { readZip, writeZip } from '../../../dev/zip';

describe('the deployment package zip', () => {
  const entries = [
    { name: 'index.js', data: Buffer.from('module.exports = 1;\n'.repeat(200)) },
    { name: 'host.json', data: Buffer.from('{"version":"2.0"}\n') },
    { name: 'empty.txt', data: Buffer.alloc(0) },
  ];

  it('reads back exactly what it wrote', () => {
    expect(readZip(writeZip(entries))).toEqual(entries);
  });

  it('gives the same bytes for the same files (no timestamps of the build)', () => {
    expect(writeZip(entries).equals(writeZip(entries))).toBe(true);
  });

  it('is an archive other tools read too (unzip, when installed)', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'zip-test-'));
    try {
      writeFileSync(path.join(dir, 'a.zip'), writeZip(entries));
      const unzip = spawnSync('unzip', ['-q', 'a.zip', '-d', 'out'], { cwd: dir });
      if (unzip.error) return; // no unzip on this machine: the round trip above still holds
      expect(unzip.status).toBe(0);
      expect(readFileSync(path.join(dir, 'out', 'index.js'))).toEqual(entries[0]!.data);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses names that could land outside the folder it is unpacked into', () => {
    for (const name of ['../evil.js', '/etc/passwd', 'a/../../b', 'dir\\file']) {
      expect(() => writeZip([{ name, data: Buffer.alloc(1) }])).toThrow(/unsafe name/);
    }
  });

  it('refuses a corrupted archive', () => {
    const archive = writeZip(entries);
    archive[40] = archive[40]! ^ 0xff; // inside the first entry's compressed data
    expect(() => readZip(archive)).toThrow();
  });
});
