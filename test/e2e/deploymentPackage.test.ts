import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { startEmulator, type RunningEmulator } from '../../dev/emulator';
import { type RunningFuncHost, startFuncHost } from '../../dev/funcHost';
import type { HostRecordLine } from '../../dev/funcOutput';
import { localFetch } from '../../dev/localFetch';
import { brokerEnvironment } from '../../dev/stackSettings';
import { readZip, type ZipEntry } from '../../dev/zip';
import { buildAll, describeOnFunc, root, waitFor } from './support';

/** What may be uploaded: the bundle, the modules it loads on first use, host.json, a package.json. */
const ALLOWED_FILES = ['azureSdk.js', 'certificateSdk.js', 'host.json', 'index.js', 'joseLib.js', 'package.json'];

/** What must never be uploaded, whatever the allow-list above ever becomes. */
const FORBIDDEN = [
  /(^|\/)node_modules\//,
  /\.(ts|map|pem|key|pfx|p12|crt|env)$/,
  /(^|\/)\.env/,
  /(^|\/)local\.settings(\.sample)?\.json$/,
  /^(src|test|dev|bench|infra|docs|coverage|\.local|\.git|\.azure)\//,
];

// `npm run package` exactly as a deploy uploads it: built by dist/dev/package.js, read back from
// the zip (the central directory, as the deployment service reads it).
describe('the deployment package (npm run package)', () => {
  const out = mkdtempSync(path.join(os.tmpdir(), 'package-'));
  let entries: ZipEntry[];
  let printed: string;

  beforeAll(() => {
    buildAll();
    const run = spawnSync(process.execPath, [path.join(root, 'dist', 'dev', 'package.js'), '--out', out], {
      cwd: root,
      encoding: 'utf8',
    });
    if (run.status !== 0) throw new Error(`npm run package failed:\n${run.stdout}${run.stderr}`);
    printed = run.stdout;
    entries = readZip(readFileSync(path.join(out, 'entra-token-broker.zip')));
  }, 120_000);

  afterAll(() => rmSync(out, { recursive: true, force: true }));

  it('holds only allow-listed files: no sources, tests, settings, keys or node_modules', () => {
    const names = entries.map((entry) => entry.name).sort();
    expect(names.filter((name) => FORBIDDEN.some((pattern) => pattern.test(name)))).toEqual([]);
    expect(names).toEqual(ALLOWED_FILES);
    // The unpacked folder beside the zip (what azd uploads) is the same set of files.
    expect(readdirSync(path.join(out, 'package')).sort()).toEqual(ALLOWED_FILES);
  });

  it('has a package.json that names the bundle and depends on nothing, and the repository host.json', () => {
    const manifest = JSON.parse(entries.find((e) => e.name === 'package.json')!.data.toString('utf8')) as Record<
      string,
      unknown
    >;
    expect(manifest.main).toBe('index.js');
    expect(manifest).not.toHaveProperty('dependencies');
    expect(manifest).not.toHaveProperty('scripts');
    expect(entries.find((e) => e.name === 'host.json')!.data.toString('utf8')).toBe(
      readFileSync(path.join(root, 'host.json'), 'utf8'),
    );
  });

  it("bundles everything but the worker's own @azure/functions-core (no require of another package)", () => {
    for (const entry of entries.filter((e) => e.name.endsWith('.js'))) {
      const required = [...entry.data.toString('utf8').matchAll(/\brequire\("([^"./][^"]*)"\)/g)].map((m) => m[1]!);
      const packages = required.filter((name) => !name.startsWith('node:') && !isNodeBuiltin(name));
      expect({ file: entry.name, packages: [...new Set(packages)] }).toEqual({
        file: entry.name,
        packages: entry.name === 'index.js' ? ['@azure/functions-core'] : [],
      });
    }
  });

  it('prints its size and its files', () => {
    expect(printed).toMatch(/entra-token-broker\.zip\s+[\d.]+ KB/);
    for (const name of ALLOWED_FILES) expect(printed).toContain(name);
  });

  // The uploaded files alone, unpacked into an empty folder, served by the real Functions host with
  // the local stack's settings: a caller gets a token the stand-in API accepts.
  describeOnFunc('as deployed, on the real Functions runtime', (func) => {
    let emulator: RunningEmulator;
    let host: RunningFuncHost | undefined;
    const appDir = path.join(out, 'unpacked');
    const hostOutput: HostRecordLine[] = [];

    beforeAll(async () => {
      mkdirSync(appDir);
      for (const entry of entries) writeFileSync(path.join(appDir, entry.name), entry.data);
      emulator = await startEmulator();
      const caCertPath = path.join(out, 'ca.pem');
      writeFileSync(caCertPath, emulator.caPem);
      const settings = brokerEnvironment(emulator.brokerSettings(), {}, { caCertPath, port: 0 });
      delete settings.PORT;
      try {
        host = await startFuncHost({
          func,
          root,
          appDir,
          settings,
          onRecord: (line) => hostOutput.push(line),
        });
      } catch (error) {
        const last = hostOutput.slice(-40).map((line) => line.text);
        throw new Error(`${(error as Error).message}\n${last.join('\n')}`, { cause: error });
      }
    }, 120_000);

    afterAll(async () => {
      await host?.stop();
      await emulator?.close();
    }, 30_000);

    it('serves a token that the stand-in API accepts', async () => {
      const caller = emulator.callers.find((c) => c.name === 'workload-a')!;
      const callerToken = await emulator.callerToken(caller);
      const res = await localFetch(`${host!.url}/api/token`, {
        method: 'POST',
        headers: { authorization: `Bearer ${callerToken}`, 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ scope: emulator.scopes[0]! }).toString(),
      });
      expect(res.status).toBe(200);
      const accessToken = (res.json as { access_token: string }).access_token;
      const api = await localFetch(emulator.thirdPartyApi.url, { headers: { authorization: `Bearer ${accessToken}` } });
      expect(api.status).toBe(200);
      // The audit line went through the invocation's context: the host logged it as the function's
      // own line (with the invocation's IDs, which Application Insights joins on), at its level.
      const audit = await waitFor(
        'the TokenRequest line',
        () => hostOutput.find((line) => line.json && line.text.includes('"event":"TokenRequest"')),
        10_000,
      );
      expect([audit.category, audit.level]).toEqual(['Function.token.User', 'info']);
      // Nothing was added to the folder but the settings file func start reads.
      expect(readdirSync(appDir).sort()).toEqual([...ALLOWED_FILES, 'local.settings.json'].sort());
    });
  });
});

function isNodeBuiltin(name: string): boolean {
  return builtinModules.includes(name.split('/')[0]!);
}
