import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildSync } from 'esbuild';
import type { EmulatorInfo } from '../../../dev/emulator';
import { httpsJson } from './support';

/** `npm run emulator` runs dev/emulator/main.ts bundled; this bundles it the same way and runs it alone. */
describe('emulator: standalone process (dev/emulator/main.ts)', () => {
  let dir: string;
  let child: ChildProcess | undefined;
  let output = '';

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'emulator-main-'));
    buildSync({
      entryPoints: [join(__dirname, '../../../dev/emulator/main.ts')],
      bundle: true,
      platform: 'node',
      target: 'node20',
      outfile: join(dir, 'emulator.js'),
      logLevel: 'silent',
    });
  });
  afterAll(() => {
    if (child && child.exitCode === null) child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });

  it('starts, writes .local/ca.pem and settings, serves the printed curl, and stops on SIGTERM', async () => {
    child = spawn(process.execPath, [join(dir, 'emulator.js')], {
      cwd: dir,
      env: { ...process.env, EMULATOR_PORT: '0', EMULATOR_THIRD_PARTY_PORT: '0', CLIENT_CREDENTIAL_KIND: 'secret' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const exited = new Promise<number | null>((resolve) => child!.on('exit', (code) => resolve(code)));

    const settingsFile = join(dir, '.local', 'emulator.json');
    for (let i = 0; i < 200 && !existsSync(settingsFile); i++) await new Promise((r) => setTimeout(r, 50));
    while (!output.includes('curl --cacert') && child.exitCode === null) await new Promise((r) => setTimeout(r, 20));
    expect(child.exitCode).toBeNull();
    const settings = JSON.parse(readFileSync(settingsFile, 'utf8')) as Record<string, string>;
    const info = JSON.parse(readFileSync(join(dir, '.local', 'emulator-info.json'), 'utf8')) as EmulatorInfo;
    const ca = readFileSync(join(dir, '.local', 'ca.pem'), 'utf8');
    expect(settings.ENTRA_TENANT_ID).toBe(info.tenantId);
    expect(settings.caCertFile).toBe(join(dir, '.local', 'ca.pem'));

    // The curl line printed for the user, replayed with the same parameters.
    const curl = /curl --cacert \.local\/ca\.pem (.*) (https:\/\/\S+)/.exec(output)!;
    const form: Record<string, string> = {};
    for (const [, key, value] of curl[1]!.matchAll(/-d '?([a-z_]+)=([^' ]+)'?/g)) form[key!] = value!;
    expect(form.client_id).toBe(info.callers[0]!.clientId);
    const answer = await httpsJson(curl[2]!, { ca, form });
    expect(answer.status).toBe(200);
    expect(answer.body.access_token).toMatch(/^eyJ/);

    child.kill('SIGTERM');
    expect(await exited).toBe(0);
  });
});
