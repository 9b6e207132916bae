import {
  BrokerError,
  CONFIGURATION_FAILURE_MEMORY_MS,
  CREDENTIAL_FAILURE_MEMORY_MS,
} from '../../../src/contract/errors';
import { DEFAULT_THROTTLE_SECONDS, MAX_RETRY_AFTER_SECONDS } from '../../../src/contract/retryAfter';
import { MAX_ATTEMPTS } from '../../../src/tokens/tokenAcquirer';
import { BACKGROUND_RETRY_MS, TokenEngine, type TokenEngineOptions } from '../../../src/tokens/tokenEngine';
import { FakeClock } from '../../support/fakes/fakeClock';
import { FAKE_SCOPE_A, FAKE_SCOPE_B, fakeConfig } from '../../support/fakes/fakeConfig';
import { FakeCredentialSource } from '../../support/fakes/fakeCredentialSource';
import { entraErrors, FakeTokenClient } from '../../support/fakes/fakeTokenClient';
import { RecordingAlerts } from '../../support/fakes/recordingAlerts';
import { createRecordingLogger } from '../../support/fakes/recordingLogger';
import { failureOf } from '../../support/failureOf';

const SECOND = 1000;

function setup(
  options: { settings?: Record<string, string>; engine?: Partial<TokenEngineOptions>; random?: () => number } = {},
) {
  const clock = new FakeClock();
  const client = new FakeTokenClient(clock);
  const source = new FakeCredentialSource();
  const alerts = new RecordingAlerts();
  const log = createRecordingLogger({ clock });
  const config = fakeConfig(options.settings);
  const engine = new TokenEngine({
    config,
    credentialSource: source,
    tokenClient: client,
    alerts,
    logger: log.logger,
    clock,
    random: options.random ?? (() => 0.5),
    sleep: clock.sleep,
    ...options.engine,
  });
  return { clock, client, source, alerts, log, config, engine };
}

/** Lets queued promise callbacks (a background refresh) run to completion. */
async function settle(): Promise<void> {
  for (let i = 0; i < 20; i += 1) await new Promise<void>((resolve) => setImmediate(resolve));
}

const unhandled: unknown[] = [];
const onUnhandled = (reason: unknown): void => {
  unhandled.push(reason);
};
beforeAll(() => process.on('unhandledRejection', onUnhandled));
afterAll(() => process.off('unhandledRejection', onUnhandled));
afterEach(async () => {
  await settle();
  // No shared attempt, background refresh or gate refusal may leave a rejection unhandled.
  expect(unhandled).toEqual([]);
  unhandled.length = 0;
});

describe('TokenEngine cache states', () => {
  it('acquires a cold scope once, logs TokenAcquired, and serves it from the cache while fresh', async () => {
    const { engine, client, source, log, clock } = setup();
    const first = await engine.getToken(FAKE_SCOPE_A);
    expect(first).toMatchObject({ accessToken: 'fake-access-token-1', scope: FAKE_SCOPE_A, cacheHit: false });
    expect(first.expiresOnMs).toBe(clock.now() + 3600 * SECOND);
    expect(first.refreshAtMs).toBe(clock.now() + 1800 * SECOND);
    expect(client.calls).toHaveLength(1);
    expect(source.valueReads).toBe(1);

    clock.advance(1799 * SECOND);
    const second = await engine.getToken(FAKE_SCOPE_A);
    expect(second).toMatchObject({ accessToken: 'fake-access-token-1', cacheHit: true });
    expect(client.calls).toHaveLength(1);

    const acquired = log.ofEvent('TokenAcquired');
    expect(acquired).toHaveLength(1);
    expect(acquired[0]).toMatchObject({ scope: FAKE_SCOPE_A, attempts: 1, credentialVersion: 'v1' });
    expect(typeof acquired[0]?.latencyMs).toBe('number');
    expect(acquired[0]?.expiresOn).toBe(new Date(first.expiresOnMs).toISOString());
  });

  it('serves a due token at once and refreshes it with exactly one background acquisition', async () => {
    const { engine, client, clock } = setup();
    await engine.getToken(FAKE_SCOPE_A);
    clock.advance(1801 * SECOND);

    const held = client.gate();
    const served = await Promise.all(Array.from({ length: 20 }, () => engine.getToken(FAKE_SCOPE_A)));
    await held.arrived;
    // Nobody waited for the refresh: all got the cached token while the request to Entra is held open.
    expect(served.every((token) => token.accessToken === 'fake-access-token-1' && token.cacheHit)).toBe(true);
    expect(client.calls).toHaveLength(2);

    held.succeed();
    await settle();
    const after = await engine.getToken(FAKE_SCOPE_A);
    expect(after).toMatchObject({ accessToken: 'fake-access-token-2', cacheHit: true });
    expect(client.calls).toHaveLength(2);
  });

  it("refreshes at Entra's refresh_in when it comes before half the lifetime", async () => {
    const { engine, client, clock } = setup();
    client.succeed({ lifetimeSeconds: 3600, refreshInSeconds: 600 });
    const first = await engine.getToken(FAKE_SCOPE_A);
    expect(first.refreshAtMs).toBe(clock.now() + 600 * SECOND);

    clock.advance(599 * SECOND);
    await engine.getToken(FAKE_SCOPE_A);
    expect(client.calls).toHaveLength(1);
    clock.advance(2 * SECOND);
    await engine.getToken(FAKE_SCOPE_A);
    await settle();
    expect(client.calls).toHaveLength(2);
  });

  it('never serves a token with less than TOKEN_MIN_LIFETIME_SECONDS left: the caller waits for a new one', async () => {
    const { engine, client, clock } = setup({ settings: { TOKEN_MIN_LIFETIME_SECONDS: '300' } });
    await engine.getToken(FAKE_SCOPE_A);
    clock.advance((3600 - 299) * SECOND);
    const served = await engine.getToken(FAKE_SCOPE_A);
    expect(served).toMatchObject({ accessToken: 'fake-access-token-2', cacheHit: false });
    expect(client.calls).toHaveLength(2);
  });

  it('fails instead of handing out an almost-expired cached token when the new acquisition fails', async () => {
    const { engine, client, clock } = setup({ settings: { TOKEN_MIN_LIFETIME_SECONDS: '300' } });
    await engine.getToken(FAKE_SCOPE_A);
    clock.advance((3600 - 200) * SECOND);
    client.fail(entraErrors.transient(503), MAX_ATTEMPTS);
    const failure = await failureOf(engine.getToken(FAKE_SCOPE_A));
    expect(failure.code).toBe('entra_transient');
    expect(failure.retryAfterSeconds).toBeGreaterThan(0);
  });

  it('fails with token_lifetime_too_short when Entra issues tokens shorter-lived than the minimum, and does not retry', async () => {
    const { engine, client, alerts, clock } = setup({ settings: { TOKEN_MIN_LIFETIME_SECONDS: '300' } });
    client.defaultLifetimeSeconds = 200;
    const failure = await failureOf(engine.getToken(FAKE_SCOPE_A));
    expect(failure.code).toBe('token_lifetime_too_short');
    expect(failure.retryAfterSeconds).toBe(CONFIGURATION_FAILURE_MEMORY_MS / SECOND);
    expect(alerts.events()).toEqual(['EntraConfigurationError']);
    expect(client.calls).toHaveLength(1);

    clock.advance(10 * SECOND);
    expect((await failureOf(engine.getToken(FAKE_SCOPE_A))).code).toBe('token_lifetime_too_short');
    expect(client.calls).toHaveLength(1);
  });

  it('starts the refresh inside the servable window when the lifetime is under twice the minimum', async () => {
    const { engine, clock } = setup({ settings: { TOKEN_MIN_LIFETIME_SECONDS: '300' } });
    const token = await engine.getToken(FAKE_SCOPE_A);
    expect(token.refreshAtMs).toBe(clock.now() + 1800 * SECOND);

    const short = setup({ settings: { TOKEN_MIN_LIFETIME_SECONDS: '300' } });
    short.client.succeed({ lifetimeSeconds: 500 });
    const served = await short.engine.getToken(FAKE_SCOPE_A);
    // Servable for 200 s; the refresh starts halfway through that window, not at 250 s.
    expect(served.refreshAtMs).toBe(short.clock.now() + 100 * SECOND);
  });

  it('keys the cache by normalised scope: each scope has its own token and spelling variants share one', async () => {
    const { engine, client } = setup();
    const a = await engine.getToken(FAKE_SCOPE_A);
    const b = await engine.getToken(FAKE_SCOPE_B);
    expect(a.accessToken).not.toBe(b.accessToken);
    expect(client.calls.map((call) => call.scope)).toEqual([FAKE_SCOPE_A, FAKE_SCOPE_B]);

    const upper = await engine.getToken(FAKE_SCOPE_A.toUpperCase());
    expect(upper).toMatchObject({ accessToken: a.accessToken, scope: FAKE_SCOPE_A, cacheHit: true });
    expect(client.calls).toHaveLength(2);
  });

  it('refuses a scope that is not configured without asking Entra', async () => {
    const { engine, client } = setup();
    const failure = await failureOf(engine.getToken('api://someone-else/.default'));
    expect(failure.code).toBe('caller_forbidden');
    expect(client.calls).toHaveLength(0);
  });

  it('takes expiry from the token client (receive time + expires_in), not from the token', async () => {
    const { engine, client, clock } = setup();
    // A skewed Entra clock is invisible here: the client reports expiry on the broker's own clock.
    client.succeed({ lifetimeSeconds: 900 });
    const served = await engine.getToken(FAKE_SCOPE_A);
    expect(served.expiresOnMs).toBe(clock.now() + 900 * SECOND);
  });
});

describe('TokenEngine single-flight', () => {
  it('100 concurrent cold requests → exactly one token request and one credential read', async () => {
    const { engine, client, source } = setup();
    const held = client.gate();
    const pending = Array.from({ length: 100 }, () => engine.getToken(FAKE_SCOPE_A));
    await held.arrived;
    held.succeed();
    const served = await Promise.all(pending);
    expect(client.calls).toHaveLength(1);
    expect(source.valueReads).toBe(1);
    expect(new Set(served.map((token) => token.accessToken))).toEqual(new Set(['fake-access-token-1']));
  });

  it('a failed shared attempt fails every waiter, is not cached, and the next request tries again', async () => {
    const { engine, client } = setup();
    const held = client.gate();
    client.fail(entraErrors.transient(502), MAX_ATTEMPTS - 1);
    const pending = Array.from({ length: 100 }, () => failureOf(engine.getToken(FAKE_SCOPE_A)));
    await held.arrived;
    held.fail(entraErrors.transient(500));
    const failures = await Promise.all(pending);
    expect(failures.every((failure) => failure.code === 'entra_transient' && failure.retryAfterSeconds! > 0)).toBe(
      true,
    );
    expect(client.calls).toHaveLength(MAX_ATTEMPTS);

    const next = await engine.getToken(FAKE_SCOPE_A);
    expect(next.cacheHit).toBe(false);
    expect(client.calls).toHaveLength(MAX_ATTEMPTS + 1);
  });

  it('scopes have separate flights: a slow scope does not hold up another', async () => {
    const { engine, client } = setup();
    const held = client.gate();
    const slow = engine.getToken(FAKE_SCOPE_A);
    await held.arrived;
    const other = await engine.getToken(FAKE_SCOPE_B);
    expect(other.scope).toBe(FAKE_SCOPE_B);
    held.succeed();
    expect((await slow).scope).toBe(FAKE_SCOPE_A);
  });
});

describe('TokenEngine retries', () => {
  it('retries a transient failure after a jittered backoff and succeeds', async () => {
    const { engine, client, clock } = setup();
    client.fail(entraErrors.transient(503));
    const served = await engine.getToken(FAKE_SCOPE_A);
    expect(served.cacheHit).toBe(false);
    expect(client.calls).toHaveLength(2);
    expect(clock.sleeps).toHaveLength(1);
    expect(clock.sleeps[0]).toBeGreaterThanOrEqual(125);
    expect(clock.sleeps[0]).toBeLessThanOrEqual(375);
  });

  it(`stops after ${MAX_ATTEMPTS} requests with growing delays, then 503 with Retry-After`, async () => {
    const { engine, client, clock } = setup();
    client.fail(entraErrors.transient(500), 10);
    const failure = await failureOf(engine.getToken(FAKE_SCOPE_A));
    expect(failure.code).toBe('entra_transient');
    expect(failure.retryAfterSeconds).toBeGreaterThan(0);
    expect(client.calls).toHaveLength(MAX_ATTEMPTS);
    expect(clock.sleeps).toHaveLength(MAX_ATTEMPTS - 1);
    expect(clock.sleeps[1]!).toBeGreaterThan(clock.sleeps[0]!);
  });

  it('a hung endpoint is bounded by the deadline: every request is given only the time left', async () => {
    const { engine, client, clock } = setup({ engine: { attemptTimeoutMs: 5000, deadlineMs: 8000 } });
    client.timeout(10);
    const startedMs = clock.now();
    const failure = await failureOf(engine.getToken(FAKE_SCOPE_A));
    expect(failure.code).toBe('entra_timeout');
    expect(failure.retryAfterSeconds).toBeGreaterThan(0);
    expect(client.calls.length).toBeGreaterThanOrEqual(2);
    for (const call of client.calls) expect(call.atMs + call.timeoutMs!).toBeLessThanOrEqual(startedMs + 8000);
    expect(clock.now() - startedMs).toBeLessThanOrEqual(8000);
  });

  it('does not sleep past the deadline', async () => {
    const { engine, client, clock } = setup({ engine: { deadlineMs: 1000 }, random: () => 0.99 });
    client.fail(entraErrors.transient(503), 10);
    const startedMs = clock.now();
    await failureOf(engine.getToken(FAKE_SCOPE_A));
    // 250 ms × ~1.5 fits, the next (500 ms × ~1.5) would end past the 1 s deadline.
    expect(client.calls).toHaveLength(2);
    expect(clock.now() - startedMs).toBeLessThanOrEqual(1000);
  });

  it('malformed answers are retried, never cached, and end in entra_malformed_response', async () => {
    const { engine, client } = setup();
    client.fail(entraErrors.malformed(), MAX_ATTEMPTS);
    const failure = await failureOf(engine.getToken(FAKE_SCOPE_A));
    expect(failure.code).toBe('entra_malformed_response');
    const next = await engine.getToken(FAKE_SCOPE_A);
    expect(next.cacheHit).toBe(false);
    expect(client.calls).toHaveLength(MAX_ATTEMPTS + 1);
  });

  it('a 200 whose lifetime is missing or zero (MSAL turns it into ~0 s) is malformed: retried, no configuration alert', async () => {
    const { engine, client, alerts } = setup();
    client.succeed({ lifetimeSeconds: 0.5 });
    const served = await engine.getToken(FAKE_SCOPE_A);
    expect(served.cacheHit).toBe(false);
    expect(client.calls).toHaveLength(2);
    expect(alerts.alerts).toEqual([]);
  });

  it("a token client that never settles is cut off by the engine's own backstop (real timers)", async () => {
    // The deadline leaves room above MIN_ATTEMPT_MS for the real milliseconds that pass before the
    // first request; with exactly MIN_ATTEMPT_MS a single elapsed millisecond meant no request at all.
    const { engine, client } = setup({
      engine: { clock: { now: () => Date.now() }, sleep: undefined, attemptTimeoutMs: 20, deadlineMs: 300 },
    });
    client.hang();
    const failure = await failureOf(engine.getToken(FAKE_SCOPE_A));
    expect(failure.code).toBe('entra_timeout');
    expect(client.calls).toHaveLength(1);
  });

  it('an unexpected (non-BrokerError) failure is not retried and surfaces as internal', async () => {
    const { engine, client } = setup();
    client.fail(new TypeError('bug'));
    const failure = await failureOf(engine.getToken(FAKE_SCOPE_A));
    expect(failure.code).toBe('internal');
    expect(client.calls).toHaveLength(1);
  });
});

describe('TokenEngine throttling', () => {
  it('never sleeps on a 429, honours Retry-After for every scope, then asks again', async () => {
    const { engine, client, clock } = setup();
    client.fail(entraErrors.throttled(20));
    const failure = await failureOf(engine.getToken(FAKE_SCOPE_A));
    expect(failure).toMatchObject({ code: 'entra_throttled', retryAfterSeconds: 20 });
    expect(clock.sleeps).toEqual([]);
    expect(client.calls).toHaveLength(1);

    clock.advance(5 * SECOND);
    expect(await failureOf(engine.getToken(FAKE_SCOPE_A))).toMatchObject({
      code: 'entra_throttled',
      retryAfterSeconds: 15,
    });
    // Entra throttles the application, so the pause covers the other scope too.
    expect((await failureOf(engine.getToken(FAKE_SCOPE_B))).code).toBe('entra_throttled');
    expect(client.calls).toHaveLength(1);

    clock.advance(15 * SECOND);
    await engine.getToken(FAKE_SCOPE_B);
    expect(client.calls).toHaveLength(2);
  });

  it.each([
    [undefined, DEFAULT_THROTTLE_SECONDS],
    [100_000, MAX_RETRY_AFTER_SECONDS],
  ])('a 429 with Retry-After %p pauses %p s', async (given, expected) => {
    const { engine, client } = setup();
    client.fail(entraErrors.throttled(given));
    expect((await failureOf(engine.getToken(FAKE_SCOPE_A))).retryAfterSeconds).toBe(expected);
  });

  it('keeps serving a valid cached token while throttled, without asking Entra again', async () => {
    const { engine, client, clock, log } = setup();
    await engine.getToken(FAKE_SCOPE_A);
    clock.advance(1801 * SECOND);
    client.fail(entraErrors.throttled(60));
    const served = await engine.getToken(FAKE_SCOPE_A);
    expect(served).toMatchObject({ accessToken: 'fake-access-token-1', cacheHit: true });
    await settle();
    expect(client.calls).toHaveLength(2);
    expect(log.ofEvent('TokenRefreshFailed')).toHaveLength(1);

    for (let i = 0; i < 10; i += 1) {
      clock.advance(5 * SECOND);
      expect((await engine.getToken(FAKE_SCOPE_A)).accessToken).toBe('fake-access-token-1');
    }
    await settle();
    expect(client.calls).toHaveLength(2);

    clock.advance(15 * SECOND);
    await engine.getToken(FAKE_SCOPE_A);
    await settle();
    expect(client.calls).toHaveLength(3);
    expect((await engine.getToken(FAKE_SCOPE_A)).accessToken).toBe('fake-access-token-2');
  });
});

describe('TokenEngine configuration failures', () => {
  it('does not retry, raises EntraConfigurationError, and remembers the failure for a while', async () => {
    const { engine, client, alerts, clock } = setup();
    client.fail(entraErrors.configuration(70011));
    const failure = await failureOf(engine.getToken(FAKE_SCOPE_A));
    expect(failure).toMatchObject({ code: 'entra_configuration', aadsts: 70011 });
    expect(failure.retryAfterSeconds).toBe(CONFIGURATION_FAILURE_MEMORY_MS / SECOND);
    expect(client.calls).toHaveLength(1);
    expect(alerts.alerts).toHaveLength(1);
    expect(alerts.alerts[0]).toMatchObject({
      event: 'EntraConfigurationError',
      severity: 'error',
      credentialName: 'entra-client-secret',
      details: { scope: FAKE_SCOPE_A, code: 'entra_configuration', aadsts: 70011 },
    });

    await Promise.all(Array.from({ length: 50 }, () => failureOf(engine.getToken(FAKE_SCOPE_A))));
    clock.advance(CONFIGURATION_FAILURE_MEMORY_MS - SECOND);
    expect((await failureOf(engine.getToken(FAKE_SCOPE_A))).retryAfterSeconds).toBe(1);
    expect(client.calls).toHaveLength(1);
    expect(alerts.alerts).toHaveLength(1);

    clock.advance(SECOND);
    await engine.getToken(FAKE_SCOPE_A);
    expect(client.calls).toHaveLength(2);
  });
});

describe('TokenEngine managed identity failures', () => {
  it('a managed identity the endpoint refuses: no retry, ManagedIdentityFailed, remembered like a configuration failure', async () => {
    const { engine, client, alerts, clock } = setup();
    client.fail(
      new BrokerError('managed_identity_unavailable', 'The managed identity endpoint refused.', {
        upstreamStatus: 400,
      }),
    );
    const failure = await failureOf(engine.getToken(FAKE_SCOPE_A));
    expect(failure).toMatchObject({
      code: 'managed_identity_unavailable',
      retryAfterSeconds: CONFIGURATION_FAILURE_MEMORY_MS / SECOND,
    });
    expect(client.calls).toHaveLength(1);
    expect(alerts.events()).toEqual(['ManagedIdentityFailed']);
    expect(alerts.alerts[0]).toMatchObject({ severity: 'error', details: { code: 'managed_identity_unavailable' } });
    expect(alerts.alerts[0]?.message).toContain('AZURE_CLIENT_ID');

    await Promise.all(Array.from({ length: 20 }, () => failureOf(engine.getToken(FAKE_SCOPE_A))));
    expect(client.calls).toHaveLength(1);
    clock.advance(CONFIGURATION_FAILURE_MEMORY_MS);
    await engine.getToken(FAKE_SCOPE_A);
    expect(client.calls).toHaveLength(2);
  });

  it('a federated credential mismatch (AADSTS700213) alerts with advice about the federated credential', async () => {
    const { engine, client, alerts } = setup();
    client.fail(entraErrors.configuration(700213));
    expect((await failureOf(engine.getToken(FAKE_SCOPE_A))).code).toBe('entra_configuration');
    expect(alerts.alerts).toEqual([
      expect.objectContaining({
        event: 'EntraConfigurationError',
        details: expect.objectContaining({ aadsts: 700213 }),
      }),
    ]);
    expect(alerts.alerts[0]?.message).toMatch(/federated identity credential/);
  });
});

describe('TokenEngine credential failures', () => {
  it('on AADSTS7000215 reads the latest version once, retries with it, promotes it, and the caller never sees a failure', async () => {
    const { engine, client, source, alerts, log } = setup();
    await source.current();
    source.addVersion('v2');
    client.refuseVersion('v1');

    const served = await engine.getToken(FAKE_SCOPE_A);
    expect(served.cacheHit).toBe(false);
    expect(client.calls.map((call) => call.credentialVersion)).toEqual(['v1', 'v2']);
    expect(source.counts.load).toBe(1);
    expect(source.promoted).toEqual(['v2']);
    expect(alerts.events()).toEqual(['CredentialRotated']);
    expect(alerts.alerts[0]).toMatchObject({ severity: 'info', version: 'v2' });
    expect(log.ofEvent('TokenAcquired')[0]).toMatchObject({ attempts: 2, credentialVersion: 'v2' });
  });

  it('with no other version fails with 503 + CredentialRejected, and remembers it: no retry storm', async () => {
    const { engine, client, source, alerts, clock } = setup();
    client.refuseVersion('v1');
    const failure = await failureOf(engine.getToken(FAKE_SCOPE_A));
    expect(failure).toMatchObject({ code: 'entra_credential_rejected', aadsts: 7000215 });
    expect(failure.retryAfterSeconds).toBe(CREDENTIAL_FAILURE_MEMORY_MS / SECOND);
    expect(client.calls).toHaveLength(1);
    expect(source.counts.load).toBe(1);
    expect(alerts.events()).toEqual(['CredentialRejected']);
    expect(alerts.alerts[0]).toMatchObject({ version: 'v1', details: { aadsts: 7000215 } });

    await Promise.all(Array.from({ length: 100 }, () => failureOf(engine.getToken(FAKE_SCOPE_A))));
    expect(client.calls).toHaveLength(1);
    expect(source.counts.load).toBe(1);

    clock.advance(CREDENTIAL_FAILURE_MEMORY_MS);
    await failureOf(engine.getToken(FAKE_SCOPE_A));
    expect(client.calls).toHaveLength(2);
  });

  it('when the reloaded version is refused too, the failure stays remembered (two requests, not two per caller)', async () => {
    const { engine, client, source, alerts } = setup();
    await source.current();
    source.addVersion('v2');
    client.refuseVersion('v1').refuseVersion('v2');
    expect((await failureOf(engine.getToken(FAKE_SCOPE_A))).code).toBe('entra_credential_rejected');
    expect(client.calls.map((call) => call.credentialVersion)).toEqual(['v1', 'v2']);
    expect(alerts.alerts[0]).toMatchObject({ event: 'CredentialRejected', details: { alsoTriedVersion: 'v2' } });

    await Promise.all(Array.from({ length: 20 }, () => failureOf(engine.getToken(FAKE_SCOPE_A))));
    expect(client.calls).toHaveLength(2);
    expect(source.counts.load).toBe(1);
    expect(source.promoted).toEqual([]);
  });

  it('lifts the remembered rejection as soon as another version is promoted (e.g. by the rotation timer)', async () => {
    const { engine, client, source } = setup();
    client.refuseVersion('v1');
    await failureOf(engine.getToken(FAKE_SCOPE_A));
    source.promote(source.addVersion('v2'));
    const served = await engine.getToken(FAKE_SCOPE_A);
    expect(served.cacheHit).toBe(false);
    expect(client.calls.at(-1)?.credentialVersion).toBe('v2');
  });

  it('on AADSTS7000222 (expired secret) with no newer version raises CredentialExpired', async () => {
    const { engine, client, alerts } = setup();
    client.refuseVersion('v1', entraErrors.credentialExpired());
    const failure = await failureOf(engine.getToken(FAKE_SCOPE_A));
    expect(failure).toMatchObject({ code: 'entra_credential_expired', aadsts: 7000222 });
    expect(failure.retryAfterSeconds).toBeGreaterThan(0);
    expect(alerts.events()).toEqual(['CredentialExpired']);
  });

  it('when the reload itself fails, reports the rejection (the root cause) and logs the reload failure', async () => {
    const { engine, client, source, log } = setup();
    client.refuseVersion('v1');
    source.failNext('load', new BrokerError('keyvault_forbidden', 'Key Vault refused the read.'));
    const failure = await failureOf(engine.getToken(FAKE_SCOPE_A));
    expect(failure.code).toBe('entra_credential_rejected');
    expect(log.ofEvent('CredentialReloadFailed')).toHaveLength(1);
  });
});

describe('TokenEngine Key Vault failures', () => {
  it('with nothing loaded, a Key Vault refusal is a 503 with Retry-After and a KeyVaultAccessFailed alert, remembered briefly', async () => {
    const { engine, client, source, alerts } = setup();
    source.failNext(
      'current',
      new BrokerError('keyvault_forbidden', 'Key Vault refused the read.', { upstreamStatus: 403 }),
    );
    const failure = await failureOf(engine.getToken(FAKE_SCOPE_A));
    expect(failure.code).toBe('keyvault_forbidden');
    expect(failure.retryAfterSeconds).toBeGreaterThan(0);
    expect(client.calls).toHaveLength(0);
    expect(alerts.events()).toEqual(['KeyVaultAccessFailed']);

    await failureOf(engine.getToken(FAKE_SCOPE_A));
    expect(source.counts.current).toBe(1);
  });

  it('keeps using the credential already loaded when Key Vault fails', async () => {
    const { engine, client, source, clock } = setup();
    await engine.getToken(FAKE_SCOPE_A);
    clock.advance(3400 * SECOND);
    source.failNext('current', new BrokerError('keyvault_transient', 'Key Vault answered 503.'));
    const served = await engine.getToken(FAKE_SCOPE_A);
    expect(served.cacheHit).toBe(false);
    expect(client.calls.at(-1)?.credentialVersion).toBe('v1');
  });

  it('does not keep using a loaded credential that Key Vault reports as disabled', async () => {
    const { engine, source, clock } = setup();
    await engine.getToken(FAKE_SCOPE_A);
    clock.advance(3400 * SECOND);
    source.failNext('current', new BrokerError('keyvault_disabled', 'The secret is disabled.'));
    expect((await failureOf(engine.getToken(FAKE_SCOPE_A))).code).toBe('keyvault_disabled');
  });
});

describe('TokenEngine background refresh failures', () => {
  it('logs a failed background refresh, keeps serving the cached token, and waits before the next attempt', async () => {
    const { engine, client, clock, log } = setup();
    await engine.getToken(FAKE_SCOPE_A);
    clock.advance(1801 * SECOND);
    client.fail(entraErrors.transient(503), MAX_ATTEMPTS);
    expect((await engine.getToken(FAKE_SCOPE_A)).cacheHit).toBe(true);
    await settle();
    expect(client.calls).toHaveLength(1 + MAX_ATTEMPTS);
    expect(log.ofEvent('TokenRefreshFailed')).toHaveLength(1);

    for (let i = 0; i < 5; i += 1) await engine.getToken(FAKE_SCOPE_A);
    await settle();
    expect(client.calls).toHaveLength(1 + MAX_ATTEMPTS);

    clock.advance(BACKGROUND_RETRY_MS);
    await engine.getToken(FAKE_SCOPE_A);
    await settle();
    expect(client.calls).toHaveLength(2 + MAX_ATTEMPTS);
    expect((await engine.getToken(FAKE_SCOPE_A)).accessToken).toBe('fake-access-token-2');
  });
});

describe('TokenEngine.refreshIfDue', () => {
  it('acquires a missing scope, leaves a fresh one alone, and refreshes a due one', async () => {
    const { engine, client, clock } = setup();
    expect(await engine.refreshIfDue(FAKE_SCOPE_A)).toEqual({ scope: FAKE_SCOPE_A, outcome: 'refreshed' });
    expect(await engine.refreshIfDue(FAKE_SCOPE_A)).toEqual({ scope: FAKE_SCOPE_A, outcome: 'fresh' });
    expect(client.calls).toHaveLength(1);
    clock.advance(1801 * SECOND);
    expect((await engine.refreshIfDue(FAKE_SCOPE_A)).outcome).toBe('refreshed');
    expect((await engine.getToken(FAKE_SCOPE_A)).accessToken).toBe('fake-access-token-2');
  });

  it('shares the acquisition of a live request instead of starting its own', async () => {
    const { engine, client } = setup();
    const held = client.gate();
    const live = engine.getToken(FAKE_SCOPE_A);
    await held.arrived;
    const timer = engine.refreshIfDue(FAKE_SCOPE_A);
    held.succeed();
    expect((await timer).outcome).toBe('refreshed');
    expect((await live).accessToken).toBe('fake-access-token-1');
    expect(client.calls).toHaveLength(1);
  });

  it('never throws and never drops a still-valid cached token when it fails', async () => {
    const { engine, client, clock } = setup();
    await engine.getToken(FAKE_SCOPE_A);
    clock.advance(1801 * SECOND);
    client.fail(entraErrors.configuration(700016));
    const outcome = await engine.refreshIfDue(FAKE_SCOPE_A);
    expect(outcome.outcome).toBe('failed');
    expect(outcome.error?.code).toBe('entra_configuration');
    expect(await engine.getToken(FAKE_SCOPE_A)).toMatchObject({ accessToken: 'fake-access-token-1', cacheHit: true });
    expect((await engine.refreshIfDue('api://unknown/.default')).outcome).toBe('failed');
  });
});

describe('TokenEngine.tryCredential', () => {
  it('acquires with the candidate, caches the token, and leaves promotion to the caller', async () => {
    const { engine, client, source } = setup();
    const candidate = source.addVersion('v2');
    const served = await engine.tryCredential(candidate, FAKE_SCOPE_A);
    expect(client.calls.map((call) => call.credentialVersion)).toEqual(['v2']);
    expect(source.promoted).toEqual([]);
    expect(await engine.getToken(FAKE_SCOPE_A)).toMatchObject({ accessToken: served.accessToken, cacheHit: true });
  });

  it('throws when Entra refuses the candidate, without reloading, alerting or touching the cache', async () => {
    const { engine, client, source, alerts } = setup();
    await engine.getToken(FAKE_SCOPE_A);
    const candidate = source.addVersion('v2');
    client.refuseVersion('v2');
    const failure = await failureOf(engine.tryCredential(candidate, FAKE_SCOPE_A));
    expect(failure.code).toBe('entra_credential_rejected');
    expect(failure.retryAfterSeconds).toBeGreaterThan(0);
    expect(source.counts.load).toBe(0);
    expect(alerts.alerts).toEqual([]);
    expect(engine.failingSinceMs(FAKE_SCOPE_A)).toBeUndefined();
    expect((await engine.getToken(FAKE_SCOPE_A)).accessToken).toBe('fake-access-token-1');
  });

  it('respects a throttling pause', async () => {
    const { engine, client, source } = setup();
    client.fail(entraErrors.throttled(30));
    await failureOf(engine.getToken(FAKE_SCOPE_A));
    expect((await failureOf(engine.tryCredential(source.addVersion('v2'), FAKE_SCOPE_A))).code).toBe('entra_throttled');
    expect(client.calls).toHaveLength(1);
  });
});

describe('TokenEngine health and failingSinceMs', () => {
  it('is unhealthy only while a configured scope has no servable token and its last acquisition failed', async () => {
    const { engine, client, clock } = setup();
    expect(engine.health()).toBe('ok');
    expect(engine.failingSinceMs(FAKE_SCOPE_A)).toBeUndefined();

    const firstFailureMs = clock.now();
    client.fail(entraErrors.transient(503), MAX_ATTEMPTS);
    await failureOf(engine.getToken(FAKE_SCOPE_A));
    expect(engine.health()).toBe('unhealthy');
    expect(engine.failingSinceMs(FAKE_SCOPE_A)).toBeGreaterThanOrEqual(firstFailureMs);
    const since = engine.failingSinceMs(FAKE_SCOPE_A);

    clock.advance(60 * SECOND);
    client.fail(entraErrors.transient(503), MAX_ATTEMPTS);
    await failureOf(engine.getToken(FAKE_SCOPE_A));
    expect(engine.failingSinceMs(FAKE_SCOPE_A)).toBe(since);
    expect(engine.failingSinceMs(FAKE_SCOPE_A.toUpperCase())).toBe(since);

    await engine.getToken(FAKE_SCOPE_A);
    expect(engine.health()).toBe('ok');
    expect(engine.failingSinceMs(FAKE_SCOPE_A)).toBeUndefined();

    // A failing refresh while the cached token is still servable does not make the broker unhealthy.
    clock.advance(1801 * SECOND);
    client.fail(entraErrors.configuration(), 1);
    await engine.refreshIfDue(FAKE_SCOPE_A);
    expect(engine.failingSinceMs(FAKE_SCOPE_A)).toBeDefined();
    expect(engine.health()).toBe('ok');
  });
});

describe('TokenEngine secrets hygiene', () => {
  it('never logs an access token or the client secret, on success or failure paths', async () => {
    const { engine, client, source, log, alerts, clock } = setup();
    await engine.getToken(FAKE_SCOPE_A);
    clock.advance(1801 * SECOND);
    await engine.getToken(FAKE_SCOPE_A);
    await settle();
    source.addVersion('v2');
    client.refuseVersion('v1').refuseVersion('v2');
    clock.advance(3600 * SECOND);
    await failureOf(engine.getToken(FAKE_SCOPE_A));
    const everything = log.lines.join('\n') + JSON.stringify(alerts.alerts);
    expect(log.lines.length).toBeGreaterThan(3);
    expect(everything).not.toContain('fake-access-token');
    expect(everything).not.toContain('fake-secret');
  });
});

describe('TokenEngine robustness', () => {
  it('an alert sink that throws does not turn a failure into something else', async () => {
    const { engine, client, log } = setup({
      engine: {
        alerts: {
          raise: () => {
            throw new Error('sink down');
          },
        },
      },
    });
    client.fail(entraErrors.configuration());
    expect((await failureOf(engine.getToken(FAKE_SCOPE_A))).code).toBe('entra_configuration');
    expect(log.ofEvent('AlertSinkFailed')).toHaveLength(1);
  });

  it.each([0, -1, Number.NaN])('refuses a deadline of %p ms at construction', (deadlineMs) => {
    expect(() => setup({ engine: { deadlineMs } })).toThrow(BrokerError);
  });
});
