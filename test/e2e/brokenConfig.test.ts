import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawnNode } from '../../dev/childProcess';
import { type RunningFuncHost, startFuncHost } from '../../dev/funcHost';
import { localFetch } from '../../dev/localFetch';
import { findFreePort } from '../../dev/ports';
import { buildAll, describeOnFunc, root, waitFor } from './support';

/** The sample settings with one setting broken: the tenant ID is not a GUID. */
function brokenSettings(): Record<string, string> {
  const sample = JSON.parse(readFileSync(path.join(root, 'local.settings.sample.json'), 'utf8')) as {
    Values: Record<string, string>;
  };
  const settings: Record<string, string> = { ...sample.Values, ENTRA_TENANT_ID: 'contoso.onmicrosoft.com' };
  delete settings.AzureWebJobsStorage;
  delete settings.FUNCTIONS_WORKER_RUNTIME;
  return settings;
}

/** What every host must do with a broken setting: answer, say unavailable, name the setting in the log only. */
async function expectUnavailableAnswers(url: string, logged: () => string): Promise<void> {
  const health = await localFetch(`${url}/api/health`);
  expect(health.status).toBe(503);
  expect(health.json).toEqual({ status: 'unhealthy' });
  for (const [method, route] of [
    ['POST', 'token'],
    ['GET', 'token'],
    ['PUT', 'token'],
  ] as const) {
    const res = await localFetch(`${url}/api/${route}`, { method, headers: { authorization: 'Bearer x.y.z' } });
    expect([method, res.status]).toEqual([method, 503]);
    expect(res.json).toMatchObject({ error: 'temporarily_unavailable' });
    expect(res.headers['retry-after']).toMatch(/^\d+$/);
    // Nothing about the configuration reaches a caller.
    expect(res.text).not.toMatch(/ENTRA_TENANT_ID|setting|contoso/i);
  }
  const line = await waitFor(
    'a ConfigurationInvalid line',
    () =>
      logged()
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .map((l) => JSON.parse(l) as Record<string, unknown>)
        .find((l) => l.event === 'ConfigurationInvalid'),
    10_000,
  );
  expect(line).toMatchObject({ level: 'error' });
  expect(String(line.message)).toContain('ENTRA_TENANT_ID');
  expect(String(line.message)).not.toContain('contoso');
}

// A setting the broker cannot parse must not leave the app with no functions (404 for callers and
// probes): both functions answer 503, and the log says which setting is wrong.
describeOnFunc('a broken setting on the real Functions runtime', (func) => {
  let host: RunningFuncHost | undefined;
  const records: { level: string | undefined; text: string }[] = [];
  const stageDir = mkdtempSync(path.join(os.tmpdir(), 'broken-config-'));

  beforeAll(async () => {
    buildAll();
    host = await startFuncHost({
      func,
      root,
      stageDir,
      settings: brokenSettings(),
      // The warm-up timer is not registered with a broken configuration: no storage needed.
      azurite: false,
      onRecord: (line) => records.push({ level: line.level, text: line.text }),
    });
  }, 120_000);

  afterAll(async () => {
    await host?.stop();
    rmSync(stageDir, { recursive: true, force: true });
  }, 30_000);

  it('registers token and health anyway; they answer 503 without configuration detail, the log names the setting', async () => {
    expect(host!.healthStatus).toBe(503);
    await expectUnavailableAnswers(host!.url, () => records.map((r) => r.text).join('\n'));
  });

  it('logs the configuration error at error level in the host, not as information', () => {
    const entry = records.find((r) => r.text.includes('"event":"ConfigurationInvalid"'));
    expect(entry?.level).toBe('fail');
    expect(records.map((r) => r.text).join('\n')).not.toMatch(/unable to load entry point|0 functions loaded/i);
  });
});

describe('a broken setting on dev/host', () => {
  it('answers the same way: 503 from token and health, the setting named in the log', async () => {
    buildAll();
    const port = await findFreePort();
    let output = '';
    const host = spawnNode('dev host', path.join(root, 'dist', 'dev', 'host.js'), [], {
      env: { PATH: process.env.PATH, PORT: String(port), ...brokenSettings() },
      cwd: root,
      onLine: (line) => (output += `${line}\n`),
    });
    try {
      const url = `http://127.0.0.1:${port}`;
      await waitFor('the host to listen', () => (/listening on/.test(output) ? true : undefined), 20_000);
      await expectUnavailableAnswers(url, () => output);
    } finally {
      await host.stop();
    }
  }, 60_000);
});
