import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { demoContext, runDemoSteps, requestBrokerToken, requestCallerToken, deniedCaller } from '../../dev/demoSteps';
import { localFetch } from '../../dev/localFetch';
import { type StackFile, stackFileProblems } from '../../dev/stackFile';
import { isAlive, killStack, root, type Started, startStack, waitFor } from './support';

// Starts the stack exactly as `npm start -- --dev-host` does (node dist/dev/start.js after the build), in
// a state directory of its own (BROKER_STATE_DIR) and on free ports, so a developer's running stack is
// untouched. The same stack on the real Functions runtime: funcRuntime.test.ts.
describe('npm start --dev-host: the local stack end to end', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'stack-e2e-'));
  let start: Started | undefined;
  /** When stack.json was first seen: the first secret version was created before it. */
  const output = (): string => start?.output() ?? '';
  let stack: StackFile;

  beforeAll(async () => {
    // A broker setting in npm start's environment reaches the broker: a fast warm-up timer.
    const started = await startStack(dir, { WARMUP_SCHEDULE: '*/2 * * * * *' }, ['--dev-host']);
    start = started.start;
    stack = started.stack;
    expect(stack.broker.url).toBe(`http://127.0.0.1:${started.port}`);
  }, 120_000);

  afterAll(async () => {
    await killStack(start);
    rmSync(dir, { recursive: true, force: true });
  });

  it('writes stack.json in the documented shape (docs/development.md), with the CA it points to', () => {
    expect(stackFileProblems(stack)).toEqual([]);
    expect(stack.broker.host).toBe('dev-host');
    expect(output()).toContain('npm start: serving the broker on dev/host');
    expect(readFileSync(path.resolve(root, stack.caCertFile), 'utf8')).toContain('BEGIN CERTIFICATE');
  });

  it('runs the demo: caller token → broker → third-party API accepts; the not-allowed caller gets 403', async () => {
    const steps = await runDemoSteps(demoContext(stack));
    expect(steps.map((s) => [s.title, s.ok, s.details])).toEqual(steps.map((s) => [s.title, true, s.details]));
    expect(steps).toHaveLength(5);
  }, 30_000);

  it('refuses a registered caller that is allowed nothing with 403 insufficient_scope', async () => {
    const ctx = demoContext(stack);
    const { token } = await requestCallerToken(ctx, deniedCaller(stack));
    expect(token).toBeDefined();
    const res = await requestBrokerToken(ctx, token!, stack.scopes[0]!);
    expect(res.status).toBe(403);
    expect(res.json).toMatchObject({ error: 'insufficient_scope' });
  });

  it("passes the broker's own JSON log lines through to npm start's output", () => {
    const brokerLines = output()
      .split('\n')
      .filter((line) => line.startsWith('{'))
      .map((line) => JSON.parse(line) as Record<string, unknown>)
      .filter((line) => typeof line.event === 'string' && line.component !== 'LocalHost');
    expect(brokerLines.length).toBeGreaterThan(0);
    expect(output()).not.toContain(stack.callers[0]!.clientSecret);
  });

  it('shows alert events on its standard output: a secret rotated to expire in 10 days → SecretExpiryWarning', async () => {
    const ctx = demoContext(stack);
    // Right away, as a client would: Key Vault's `created` has one-second resolution, so this version
    // is often created in the same second as the first one (regression: it was then never rotated to).
    const rotated = await localFetch(`${stack.control.url}/rotate`, {
      method: 'POST',
      ca: ctx.ca,
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ expiresInDays: 10 }),
    });
    expect(rotated.status).toBeLessThan(300);
    const warning = await waitFor(
      'a SecretExpiryWarning line on stdout',
      () =>
        start!
          .stdout()
          .split('\n')
          .filter((line) => line.startsWith('{'))
          .map((line) => JSON.parse(line) as Record<string, unknown>)
          .find((line) => line.event === 'SecretExpiryWarning'),
      20_000,
    );
    expect(warning).toMatchObject({ severity: 'warning', credentialName: stack.keyVault.credentialName, daysLeft: 9 });
  }, 30_000);

  it("prints the next commands and the local host's limits", () => {
    expect(output()).toContain(`curl -s -X POST ${stack.broker.url}/api/token`);
    expect(output()).toContain('npm run demo');
    expect(output()).toMatch(/no function keys, no Easy Auth/);
  });

  it('stops every process it started on SIGTERM and removes stack.json', async () => {
    const pids = /emulator pid (\d+), broker pid (\d+)/.exec(output());
    expect(pids).not.toBeNull();
    const children = [Number(pids![1]), Number(pids![2])];
    expect(children.every(isAlive)).toBe(true);
    start!.child.kill('SIGTERM');
    await start!.exited;
    await waitFor('children to exit', () => (children.some(isAlive) ? undefined : true), 10_000);
    expect(children.filter(isAlive)).toEqual([]);
    expect(existsSync(path.join(dir, 'stack.json'))).toBe(false);
  }, 20_000);
});
