import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  allowedCaller,
  callThirdPartyApi,
  demoContext,
  deniedCaller,
  requestBrokerToken,
  requestCallerToken,
  runDemoSteps,
} from '../../dev/demoSteps';
import { localFetch } from '../../dev/localFetch';
import { type StackFile, stackFileProblems } from '../../dev/stackFile';
import { describeOnFunc, isAlive, type Started, startStack, waitFor } from './support';

/** The broker's JSON log lines on npm start's stdout, parsed. */
function jsonLines(text: string): Record<string, unknown>[] {
  return text
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

// `npm start` on the real Azure Functions host (`func start` + Azurite): one stack shared by every
// test here (a host start costs seconds), in a state directory of its own and on free ports.
describeOnFunc('npm start on the real Functions runtime (func start)', (func) => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'func-e2e-'));
  const stackFile = path.join(dir, 'stack.json');
  let start: Started | undefined;
  let stack: StackFile;
  const stdout = (): string => start?.stdout() ?? '';
  const output = (): string => start?.output() ?? '';
  let callerToken: string;

  beforeAll(async () => {
    // Under a minute, so the timer fires during the test (and the schedule monitor is off).
    const started = await startStack(dir, {
      FUNC: func.path,
      WARMUP_SCHEDULE: '*/2 * * * * *',
      // The rotation test is about rotation: its load must not meet the per-caller rate limit (429).
      CALLER_RATE_LIMIT_PER_MINUTE: '1000000',
    });
    start = started.start;
    stack = started.stack;
    expect(stack.broker.url).toBe(`http://127.0.0.1:${started.port}`);
    const { token } = await requestCallerToken(demoContext(stack), allowedCaller(stack));
    callerToken = token!;
  }, 150_000);

  afterAll(async () => {
    if (start && start.child.exitCode === null) {
      // SIGTERM, not SIGKILL: npm start must stop func, the host under it and Azurite.
      start.child.kill('SIGTERM');
      await start.exited;
    }
    rmSync(dir, { recursive: true, force: true });
  }, 30_000);

  it('says it serves the broker with func start, and stack.json says so in the contract shape', () => {
    expect(output()).toContain(`npm start: serving the broker on the Azure Functions host: ${func.path} start`);
    expect(stackFileProblems(stack)).toEqual([]);
    expect(stack.broker.host).toBe('func');
    // The host itself indexed the three functions.
    expect(output()).toMatch(/Host\.Functions\.health[\s\S]*Host\.Functions\.token[\s\S]*Host\.Functions\.warmup/);
  });

  it('passes the demo: a caller token → the broker → a token the stand-in API accepts; the denied caller gets 403', async () => {
    const steps = await runDemoSteps(demoContext(stack));
    expect(steps.map((s) => [s.title, s.ok, s.details])).toEqual(steps.map((s) => [s.title, true, s.details]));
    expect(steps).toHaveLength(5);
  }, 30_000);

  it('serves GET /api/token?scope=… with a token the stand-in API accepts', async () => {
    const res = await localFetch(`${stack.broker.url}/api/token?scope=${encodeURIComponent(stack.scopes[0]!)}`, {
      headers: { authorization: `Bearer ${callerToken}` },
    });
    expect(res.status).toBe(200);
    expect(res.headers['cache-control']).toBe('no-store');
    const accessToken = (res.json as { access_token: string }).access_token;
    expect((await callThirdPartyApi(demoContext(stack), accessToken)).status).toBe(200);
  });

  it('answers 401 without a caller token and 403 for a caller allowed nothing', async () => {
    const anonymous = await localFetch(`${stack.broker.url}/api/token`, { method: 'POST' });
    expect(anonymous.status).toBe(401);
    expect(anonymous.headers['www-authenticate']).toMatch(/^Bearer/);
    expect(anonymous.json).toMatchObject({ error: 'invalid_token' });
    const { token } = await requestCallerToken(demoContext(stack), deniedCaller(stack));
    const denied = await requestBrokerToken(demoContext(stack), token!, stack.scopes[0]!);
    expect(denied.status).toBe(403);
    expect(denied.json).toMatchObject({ error: 'insufficient_scope' });
  });

  it('answers other methods with the JSON 405 and Allow, HEAD included (the host does not answer for us)', async () => {
    const put = await localFetch(`${stack.broker.url}/api/token`, { method: 'PUT' });
    expect(put.status).toBe(405);
    expect(put.headers.allow).toBe('GET, POST');
    expect(put.json).toMatchObject({ error: 'invalid_request' });
    const head = await localFetch(`${stack.broker.url}/api/token`, { method: 'HEAD' });
    expect(head.status).toBe(405);
    expect(head.headers.allow).toBe('GET, POST');
    expect(head.text).toBe('');
    const healthPost = await localFetch(`${stack.broker.url}/api/health`, { method: 'POST' });
    expect(healthPost.status).toBe(405);
    expect(healthPost.headers.allow).toBe('GET');
  });

  it('answers /api/health with 200 {"status":"ok"}', async () => {
    const res = await localFetch(`${stack.broker.url}/api/health`);
    expect(res.status).toBe(200);
    expect(res.json).toEqual({ status: 'ok' });
  });

  it('fires the warm-up timer (AzureWebJobsStorage on Azurite) and writes its WarmupCompleted line', async () => {
    const completed = await waitFor(
      'a WarmupCompleted line',
      () => jsonLines(stdout()).find((line) => line.event === 'WarmupCompleted'),
      20_000,
    );
    expect(completed).toMatchObject({ failed: 0, credentialKind: 'secret' });
    // The host holds its lock in AzureWebJobsStorage: Azurite answers for it.
    await waitFor('the host lock lease', () => (/Host lock lease acquired/.test(output()) ? true : undefined), 20_000);
  }, 45_000);

  it('rotates the secret under load with zero failed calls, and warns that the new one expires soon', async () => {
    const ctx = demoContext(stack);
    const counts = { ok: 0, failed: [] as number[] };
    let stopped = false;
    const loops = Array.from({ length: 4 }, async () => {
      while (!stopped) {
        const res = await requestBrokerToken(ctx, callerToken, stack.scopes[0]!);
        if (res.status === 200) counts.ok += 1;
        else counts.failed.push(res.status);
        // Steady load, not a flood: the machine runs other tests too.
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
    });
    try {
      const loaded = jsonLines(stdout()).filter((line) => line.event === 'CredentialLoaded');
      const oldVersion = loaded[loaded.length - 1]?.version;
      expect(oldVersion).toBeDefined();
      const rotated = await localFetch(`${stack.control.url}/rotate`, {
        method: 'POST',
        ca: ctx.ca,
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ expiresInDays: 10 }),
      });
      expect(rotated.status).toBe(201);
      const newVersion = (rotated.json as { version: string }).version;
      // The warm-up run tries the new version, then uses it.
      await waitFor(
        'a warm-up run on the new version',
        () =>
          jsonLines(stdout()).find((line) => line.event === 'WarmupCompleted' && line.credentialVersion === newVersion),
        30_000,
      );
      const revoked = await localFetch(`${stack.control.url}/credentials/${String(oldVersion)}/revoke`, {
        method: 'POST',
        ca: ctx.ca,
      });
      expect(revoked.status).toBe(200);
      const warning = await waitFor(
        'a SecretExpiryWarning line',
        () => jsonLines(stdout()).find((line) => line.event === 'SecretExpiryWarning'),
        20_000,
      );
      expect(warning).toMatchObject({
        severity: 'warning',
        credentialName: stack.keyVault.credentialName,
        daysLeft: 9,
      });
    } finally {
      stopped = true;
      await Promise.all(loops);
    }
    expect(counts.failed).toEqual([]);
    expect(counts.ok).toBeGreaterThan(0);
  }, 60_000);

  it("passes the broker's JSON lines through unchanged and never a secret", () => {
    const lines = jsonLines(stdout());
    expect(lines.some((line) => line.event === 'TokenRequest')).toBe(true);
    for (const caller of stack.callers) expect(output()).not.toContain(caller.clientSecret);
  });

  it('stops every process it started (emulator, Azurite, func and the host under it) on SIGTERM', async () => {
    const pids = /emulator pid (\d+), broker pid (\d+), azurite pid (\d+)/.exec(output());
    expect(pids).not.toBeNull();
    const children = [Number(pids![1]), Number(pids![2]), Number(pids![3])];
    const hostPort = new URL(stack.broker.url).port;
    expect(children.every(isAlive)).toBe(true);
    start!.child.kill('SIGTERM');
    await start!.exited;
    await waitFor('children to exit', () => (children.some(isAlive) ? undefined : true), 20_000);
    expect(existsSync(stackFile)).toBe(false);
    // Nothing listens on the broker's port any more: the host under func stopped too.
    await expect(localFetch(`http://127.0.0.1:${hostPort}/api/health`, { timeoutMs: 2000 })).rejects.toThrow();
  }, 40_000);
});
