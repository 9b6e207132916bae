import { capturedFunctions, type CapturedFunction } from '../../dev/host/functionRegistry';
import { type RunningLocalHost, startLocalHost } from '../../dev/host/localHost';
import { localFetch } from '../../dev/localFetch';

// The fixture registers through @azure/functions exactly like src/index.ts; jest maps
// @azure/functions-core to the capturing stub, so these are real registrations.
async function loadFixture(): Promise<CapturedFunction[]> {
  const before = capturedFunctions.length;
  process.env.FIXTURE_TIMER_SCHEDULE = '*/1 * * * * *';
  // Not isolated: the fixture must reach the same registry module instance this file reads.
  await import('../fixtures/app/index');
  return capturedFunctions.slice(before);
}

describe('local function host over real HTTP', () => {
  const lines: string[] = [];
  let host: RunningLocalHost;

  beforeAll(async () => {
    host = await startLocalHost({ functions: await loadFixture(), port: 0, write: (line) => lines.push(line) });
  });
  afterAll(async () => {
    await host?.close();
  });

  it('serves an HTTP function under /api/<route> with params, query, headers and body, and writes its jsonBody', async () => {
    const res = await localFetch(`${host.url}/api/echo/42?q=1&q=2`, {
      method: 'POST',
      headers: { 'x-test': 'hello', 'content-type': 'text/plain' },
      body: 'the body',
    });
    expect(res.status).toBe(200);
    expect(res.headers['x-fixture']).toBe('yes');
    expect(res.headers['content-type']).toBe('application/json');
    expect(res.json).toEqual({
      method: 'POST',
      id: '42',
      q: ['1', '2'],
      body: 'the body',
      header: 'hello',
      functionName: 'echo',
    });
  });

  it('sends InvocationContext logs to the output as JSON lines naming the function', async () => {
    await localFetch(`${host.url}/api/echo`);
    const logged = lines.map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => l.event === 'FunctionLog');
    expect(logged).toEqual(
      expect.arrayContaining([expect.objectContaining({ function: 'echo', message: 'echo called' })]),
    );
  });

  it('answers 404 for a method the function did not register, and for unknown routes', async () => {
    expect((await localFetch(`${host.url}/api/health`, { method: 'DELETE' })).status).toBe(404);
    expect((await localFetch(`${host.url}/api/nothing-here`)).status).toBe(404);
  });

  it('writes an HttpResponse returned by the function', async () => {
    const res = await localFetch(`${host.url}/api/created`, { method: 'PUT' });
    expect(res.status).toBe(201);
    expect(res.headers['x-made']).toBe('1');
    expect(res.text).toBe('made');
  });

  it('turns a throwing function into a bare 500 and logs the error', async () => {
    const res = await localFetch(`${host.url}/api/boom`);
    expect(res.status).toBe(500);
    expect(res.text).toBe('');
    expect(lines.some((l) => l.includes('"event":"FunctionFailed"') && l.includes('fixture failure'))).toBe(true);
  });

  it('runs the timer function on startup and then on its schedule, passing its JSON log lines through unchanged', async () => {
    const ticks = (): number => lines.filter((l) => l.includes('"event":"Tick"')).length;
    const deadline = Date.now() + 5000;
    while (ticks() < 2 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 100));
    expect(ticks()).toBeGreaterThanOrEqual(2);
    expect(lines).toContain('{"level":"info","component":"Fixture","event":"Tick","isPastDue":false}');
  });

  it('reports a port already in use as EADDRINUSE', async () => {
    await expect(startLocalHost({ functions: [], port: host.port, runTimers: false })).rejects.toMatchObject({
      code: 'EADDRINUSE',
    });
  });
});
