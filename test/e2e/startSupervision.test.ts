import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { findFreePort } from '../../dev/ports';
import { isAlive, killStack, root, runStart, type Started, startScript, waitFor } from './support';

// `npm start`'s process supervision, with the fixture app as the "broker" (BROKER_APP) so it does not
// depend on the broker's own code: a dying child takes the stack down, a taken port is reported.
describe('npm start supervision', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'start-supervision-'));
  const fixtureApp = path.join(dir, 'app.js');
  const running: Started[] = [];

  beforeAll(() => {
    const build = (args: string[]) =>
      spawnSync(process.execPath, [path.join(root, 'dev', 'build.mjs'), ...args], { cwd: root, encoding: 'utf8' });
    // Only the dev tools matter here (the broker's bundle is tested elsewhere).
    const tools = build([]);
    if (!existsSync(startScript)) throw new Error(`build failed:\n${tools.stdout}${tools.stderr}`);
    const fixture = build(['--app', 'test/fixtures/app/index.ts', '--outfile', fixtureApp]);
    if (fixture.status !== 0) throw new Error(`fixture build failed:\n${fixture.stdout}${fixture.stderr}`);
  }, 120_000);

  afterAll(async () => {
    for (const started of running) await killStack(started);
    rmSync(dir, { recursive: true, force: true });
  });

  it('stops the emulator and exits non-zero when the broker dies, leaving no process behind', async () => {
    const state = path.join(dir, 'state-a');
    const started = runStart(
      { BROKER_APP: fixtureApp, BROKER_STATE_DIR: state, PORT: '0', FIXTURE_TIMER_SCHEDULE: '0 0 0 1 1 *' },
      ['--dev-host'],
    );
    running.push(started);
    const pids = await waitFor(
      'the banner with the process IDs',
      () => /emulator pid (\d+), broker pid (\d+)/.exec(started.output()) ?? undefined,
      60_000,
    );
    expect(existsSync(path.join(state, 'stack.json'))).toBe(true);
    const [emulatorPid, brokerPid] = [Number(pids[1]), Number(pids[2])];
    process.kill(brokerPid, 'SIGKILL');
    const code = await started.exited;
    expect(code).not.toBe(0);
    expect(started.output()).toContain('the broker stopped');
    await waitFor('the emulator to exit', () => (isAlive(emulatorPid) ? undefined : true), 10_000);
    expect(existsSync(path.join(state, 'stack.json'))).toBe(false);
  }, 90_000);

  it('refuses a broker port that is already in use with a clear message', async () => {
    const port = await findFreePort();
    const blocker = net.createServer();
    await new Promise<void>((resolve) => blocker.listen(port, '127.0.0.1', resolve));
    try {
      const started = runStart(
        { BROKER_APP: fixtureApp, BROKER_STATE_DIR: path.join(dir, 'state-b'), PORT: String(port) },
        ['--dev-host'],
      );
      running.push(started);
      expect(await started.exited).toBe(1);
      expect(started.output()).toContain(`port ${port} on 127.0.0.1 is already in use`);
    } finally {
      await new Promise((resolve) => blocker.close(resolve));
    }
  }, 30_000);
});
