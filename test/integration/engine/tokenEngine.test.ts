/**
 * The token engine with the real credential source (@azure/keyvault-secrets + managed identity) and
 * the real Entra client (@azure/identity) against the emulator over HTTPS on 127.0.0.1.
 */
import { randomUUID } from 'node:crypto';
import { startEmulator } from '../../../dev/emulator';
import type { RunningEmulator } from '../../../dev/emulator';
import { type BrokerConfig, parseConfig } from '../../../src/contract/config';
import { createKeyVaultCredentialSource } from '../../../src/credentials/credentialSource';
import type { CredentialSource } from '../../../src/credentials/credentialTypes';
import { createManagedIdentityCredential } from '../../../src/credentials/managedIdentity';
import { SecretRegistry } from '../../../src/platform/redact';
import { createEntraTokenClient } from '../../../src/tokens/tokenClient';
import { MAX_ATTEMPTS } from '../../../src/tokens/tokenAcquirer';
import { TokenEngine, type TokenEngineOptions } from '../../../src/tokens/tokenEngine';
import { RecordingAlerts } from '../../support/fakes/recordingAlerts';
import { useIdentityEnv } from '../../support/identityEnv';
import { createRecordingLogger, type RecordingLogger } from '../../support/fakes/recordingLogger';
import { OffsetClock } from '../../support/brokerHarness';
import { failureOf } from '../../support/failureOf';

const CANARY = `canary-engine-${randomUUID()}`;
const SECOND = 1000;

interface Harness {
  engine: TokenEngine;
  source: CredentialSource;
  alerts: RecordingAlerts;
  log: RecordingLogger;
  clock: OffsetClock;
  config: BrokerConfig;
}

describe('TokenEngine against the emulator (real SDKs)', () => {
  let emulator: RunningEmulator;
  let scope: string;
  let otherScope: string;
  let restoreIdentityEnv: () => void;
  const logs: RecordingLogger[] = [];

  beforeAll(async () => {
    emulator = await startEmulator({ clientSecret: CANARY });
    // ManagedIdentityCredential finds the App Service endpoint through these (as in Azure).
    restoreIdentityEnv = useIdentityEnv(emulator);
    scope = emulator.scopes[0]!;
    otherScope = emulator.scopes[1]!;
  });

  afterAll(async () => {
    restoreIdentityEnv();
    await emulator.close();
  });

  beforeEach(() => emulator.reset());

  /** Set by tests that revoke or expire the secret in Entra; a new good version is then added for the next test. */
  let credentialSpoiled = false;
  afterEach(async () => {
    if (credentialSpoiled) await emulator.rotate({});
    credentialSpoiled = false;
  });

  afterEach(() => {
    // Whatever happened, no log line holds the secret, a JWT or a form secret.
    const text = logs.flatMap((log) => log.lines).join('\n');
    expect(text).not.toContain(CANARY);
    expect(text).not.toMatch(/eyJ[A-Za-z0-9_-]{10,}/);
    expect(text).not.toContain('client_secret=');
    logs.length = 0;
  });

  function build(
    options: Partial<TokenEngineOptions> & { settings?: Record<string, string>; clock?: OffsetClock } = {},
  ): Harness {
    const { settings, ...engineOptions } = options;
    const config = parseConfig({ ...emulator.brokerSettings(), ...settings });
    const clock = options.clock ?? new OffsetClock();
    const log = createRecordingLogger({ clock });
    logs.push(log);
    const secrets = new SecretRegistry();
    const managedIdentity = createManagedIdentityCredential({ config, tlsCaPem: emulator.caPem });
    const source = createKeyVaultCredentialSource({
      config,
      managedIdentity,
      logger: log.logger,
      secrets,
      tlsCaPem: emulator.caPem,
      clock,
    });
    const tokenClient = createEntraTokenClient({ config, logger: log.logger, tlsCaPem: emulator.caPem, clock });
    const alerts = new RecordingAlerts();
    const engine = new TokenEngine({
      config,
      credentialSource: source,
      tokenClient,
      alerts,
      logger: log.logger,
      clock,
      ...engineOptions,
    });
    return { engine, source, alerts, log, clock, config };
  }

  function tokenRequests(forScope = scope): number {
    return emulator.stats().tokenRequests[emulator.broker.clientId]?.[forScope] ?? 0;
  }

  function keyVaultReads(): number {
    return emulator.stats().keyVaultReads[emulator.broker.credentialName] ?? 0;
  }

  it('cold acquire: one Key Vault read, one token request, and the token works at the third-party API', async () => {
    const { engine, log } = build();
    const served = await engine.getToken(scope);
    expect(served).toMatchObject({ scope, cacheHit: false });
    expect(tokenRequests()).toBe(1);
    expect(keyVaultReads()).toBe(1);
    expect(log.ofEvent('TokenAcquired')).toHaveLength(1);

    const answer = await fetch(emulator.thirdPartyApi.url, {
      headers: { Authorization: `Bearer ${served.accessToken}` },
    });
    expect(answer.status).toBe(200);
  });

  it('cache hit: a second request is served without any upstream request (emulator stats)', async () => {
    const { engine } = build();
    const first = await engine.getToken(scope);
    const before = emulator.stats();
    const second = await engine.getToken(scope);
    expect(second).toMatchObject({ accessToken: first.accessToken, cacheHit: true });
    expect(emulator.stats()).toEqual(before);
  });

  it('100 concurrent cold requests → exactly one token request and at most one Key Vault read', async () => {
    const { engine } = build();
    const served = await Promise.all(Array.from({ length: 100 }, () => engine.getToken(scope)));
    expect(new Set(served.map((token) => token.accessToken)).size).toBe(1);
    expect(tokenRequests()).toBe(1);
    expect(keyVaultReads()).toBeLessThanOrEqual(1);
  });

  it('a failed shared attempt fails all 100 waiters, and the next request tries again', async () => {
    const { engine } = build();
    emulator.setFault({ target: 'token', mode: 'status', status: 503, count: MAX_ATTEMPTS });
    const failures = await Promise.all(Array.from({ length: 100 }, () => failureOf(engine.getToken(scope))));
    expect(failures.every((failure) => failure.code === 'entra_transient')).toBe(true);
    expect(failures.every((failure) => (failure.retryAfterSeconds ?? 0) > 0)).toBe(true);
    expect(tokenRequests()).toBe(MAX_ATTEMPTS);
    expect((await engine.getToken(scope)).cacheHit).toBe(false);
    expect(tokenRequests()).toBe(MAX_ATTEMPTS + 1);
  });

  it('scopes are separate cache entries', async () => {
    const { engine } = build();
    const a = await engine.getToken(scope);
    const b = await engine.getToken(otherScope);
    expect(a.accessToken).not.toBe(b.accessToken);
    expect((await engine.getToken(scope.toUpperCase())).accessToken).toBe(a.accessToken);
    expect(tokenRequests(scope)).toBe(1);
    expect(tokenRequests(otherScope)).toBe(1);
  });

  it('refreshes ahead in the background: the caller is served from the cache', async () => {
    const { engine, clock } = build();
    const first = await engine.getToken(scope);
    clock.advance(first.refreshAtMs - clock.now() + SECOND);
    const due = await engine.getToken(scope);
    expect(due).toMatchObject({ accessToken: first.accessToken, cacheHit: true });
    // The background acquisition is the one the timer joins.
    expect((await engine.refreshIfDue(scope)).outcome).toBe('refreshed');
    expect(tokenRequests()).toBe(2);
    const after = await engine.getToken(scope);
    expect(after.accessToken).not.toBe(first.accessToken);
    expect(after.cacheHit).toBe(true);
  });

  it('expiry comes from receive time + expires_in: a local clock 20 minutes fast changes nothing', async () => {
    const clock = new OffsetClock(20 * 60 * SECOND);
    const { engine } = build({ clock });
    const served = await engine.getToken(scope);
    // The JWT's exp (real time + 3599 s) would leave only ~40 min on this clock.
    expect(served.expiresOnMs - clock.now()).toBeGreaterThan(3500 * SECOND);
    expect((await engine.getToken(scope)).cacheHit).toBe(true);
  });

  it('rotation with revokePrevious: the next acquisition reloads the new version and nobody sees a failure', async () => {
    const { engine, source, alerts, clock } = build();
    const first = await engine.getToken(scope);
    const oldVersion = source.peek()?.properties.version;
    credentialSpoiled = true;
    const { version } = await emulator.rotate({ revokePrevious: true });
    expect(version).not.toBe(oldVersion);

    // Past the servable window: the caller has to wait for a new token, and gets one.
    clock.advance(first.expiresOnMs - clock.now());
    const served = await engine.getToken(scope);
    expect(served.cacheHit).toBe(false);
    expect(source.peek()?.properties.version).toBe(version);
    expect(tokenRequests()).toBe(3); // first, refused old version, new version
    expect(alerts.events()).toEqual(['CredentialRotated']);
    expect(engine.failingSinceMs(scope)).toBeUndefined();

    const answer = await fetch(emulator.thirdPartyApi.url, {
      headers: { Authorization: `Bearer ${served.accessToken}` },
    });
    expect(answer.status).toBe(200);
  });

  it('a revoked secret with no other version → 503, CredentialRejected, and no retry storm', async () => {
    const { engine, source, alerts } = build();
    const current = await source.current();
    credentialSpoiled = true;
    emulator.revokeCredential(current.properties.version);
    emulator.reset();
    const failure = await failureOf(engine.getToken(scope));
    expect(failure).toMatchObject({ code: 'entra_credential_rejected', aadsts: 7000215 });
    expect(failure.retryAfterSeconds).toBeGreaterThan(0);
    expect(alerts.events()).toEqual(['CredentialRejected']);
    expect(tokenRequests()).toBe(1);
    expect(keyVaultReads()).toBe(1); // the reload

    await Promise.all(Array.from({ length: 50 }, () => failureOf(engine.getToken(scope))));
    expect(tokenRequests()).toBe(1);
    expect(keyVaultReads()).toBe(1);
  });

  it('an expired secret (AADSTS7000222) → 503 and a CredentialExpired alert', async () => {
    const { engine, source, alerts } = build();
    const current = await source.current();
    credentialSpoiled = true;
    emulator.expireCredentialInEntra(current.properties.version);
    const failure = await failureOf(engine.getToken(scope));
    expect(failure.code).toBe('entra_credential_expired');
    expect(alerts.events()).toEqual(['CredentialExpired']);
  });

  it('a scope Entra does not know → 503, EntraConfigurationError, no retries', async () => {
    const unknown = 'api://no-such-resource/.default';
    const { engine, alerts } = build({ settings: { TOKEN_SCOPES: `${scope},${unknown}` } });
    const failure = await failureOf(engine.getToken(unknown));
    expect(failure.code).toBe('entra_configuration');
    expect(alerts.events()).toEqual(['EntraConfigurationError']);
    expect(tokenRequests(unknown)).toBe(1);
    await failureOf(engine.getToken(unknown));
    expect(tokenRequests(unknown)).toBe(1);
  });

  it('429: no retry, Retry-After honoured for every scope, cached tokens still served', async () => {
    const { engine, clock } = build();
    const first = await engine.getToken(scope);
    clock.advance(first.refreshAtMs - clock.now() + SECOND);
    emulator.setFault({ target: 'token', mode: 'status', status: 429, retryAfter: 7 });

    const outcome = await engine.refreshIfDue(scope);
    expect(outcome.outcome).toBe('failed');
    expect(outcome.error).toMatchObject({ code: 'entra_throttled', retryAfterSeconds: 7 });
    expect(tokenRequests()).toBe(2);

    expect(await engine.getToken(scope)).toMatchObject({ accessToken: first.accessToken, cacheHit: true });
    const cold = await failureOf(engine.getToken(otherScope));
    expect(cold.code).toBe('entra_throttled');
    expect(cold.retryAfterSeconds).toBeLessThanOrEqual(7);
    expect(tokenRequests()).toBe(2);
    expect(tokenRequests(otherScope)).toBe(0);

    emulator.clearFaults();
    clock.advance(7 * SECOND);
    expect((await engine.refreshIfDue(scope)).outcome).toBe('refreshed');
    expect((await engine.getToken(otherScope)).cacheHit).toBe(false);
  });

  it('500 twice, then success: bounded retries hide the blip from the caller', async () => {
    const { engine } = build();
    emulator.setFault({ target: 'token', mode: 'status', status: 500, count: 2 });
    const served = await engine.getToken(scope);
    expect(served.cacheHit).toBe(false);
    expect(tokenRequests()).toBe(3);
  });

  it('500 that does not stop → 503 (entra_transient) after a bounded number of requests', async () => {
    const { engine } = build();
    emulator.setFault({ target: 'token', mode: 'status', status: 500 });
    const failure = await failureOf(engine.getToken(scope));
    expect(failure.code).toBe('entra_transient');
    expect(tokenRequests()).toBe(MAX_ATTEMPTS);
  });

  it("a hung token endpoint: the engine's own deadline answers 503", async () => {
    const { engine } = build({ attemptTimeoutMs: 800, deadlineMs: 2500 });
    emulator.setFault({ target: 'token', mode: 'hang' });
    const failure = await failureOf(engine.getToken(scope));
    expect(failure.code).toBe('entra_timeout');
    expect(failure.retryAfterSeconds).toBeGreaterThan(0);
    expect(tokenRequests()).toBeGreaterThanOrEqual(1);
    expect(tokenRequests()).toBeLessThanOrEqual(MAX_ATTEMPTS);
    emulator.clearFaults();
    expect((await engine.getToken(scope)).cacheHit).toBe(false);
  });

  it.each(['html', 'truncated', 'no-token', 'bad-expiry'] as const)(
    'a 200 with a malformed body (%s) → 503, nothing cached',
    async (malformedBody) => {
      const { engine } = build();
      emulator.setFault({ target: 'token', mode: 'malformed', malformedBody });
      const failure = await failureOf(engine.getToken(scope));
      expect(failure.code).toBe('entra_malformed_response');
      expect(tokenRequests()).toBe(MAX_ATTEMPTS);
      emulator.clearFaults();
      const served = await engine.getToken(scope);
      expect(served.cacheHit).toBe(false);
      expect(tokenRequests()).toBe(MAX_ATTEMPTS + 1);
    },
  );

  it('Key Vault unreachable on the first read → 503 naming Key Vault, and a KeyVaultAccessFailed alert', async () => {
    const { engine, alerts } = build();
    emulator.setFault({ target: 'keyvault', mode: 'status', status: 403 });
    const failure = await failureOf(engine.getToken(scope));
    expect(failure.code).toMatch(/^keyvault_/);
    expect(failure.retryAfterSeconds).toBeGreaterThan(0);
    expect(alerts.events()).toContain('KeyVaultAccessFailed');
    expect(tokenRequests()).toBe(0);
  });

  it('health: unhealthy while a scope has no token and the last attempt failed, ok again after success', async () => {
    const { engine } = build();
    expect(engine.health()).toBe('ok');
    emulator.setFault({ target: 'token', mode: 'status', status: 503 });
    await failureOf(engine.getToken(scope));
    expect(engine.health()).toBe('unhealthy');
    emulator.clearFaults();
    await engine.getToken(scope);
    await engine.getToken(otherScope);
    expect(engine.health()).toBe('ok');
  });
});
