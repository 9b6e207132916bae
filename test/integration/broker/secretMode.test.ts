/**
 * The whole broker built by `createBroker`, CLIENT_CREDENTIAL_KIND=secret, against the emulator:
 * acquire through the front door, cache, refresh ahead, the warm-up run's expiry alerts, rotation
 * with `revokePrevious` recovered without a failed call (by the engine's reload and by the warm-up
 * run), and no credential or token in any log line or response.
 *
 * The tests share one emulator (see brokerHarness) and run in order: the warm-up test expects the
 * first secret version (10 days left) to be the latest, so the rotations come after it.
 */
import { randomUUID } from 'node:crypto';
import {
  type BrokerHarness,
  exerciseAcquireAndCache,
  exerciseRefreshAhead,
  expectNoLeaks,
  expectServedToken,
  type HarnessAnswer,
  startBrokerHarness,
  statuses,
  thirdPartyStatus,
} from '../../support/brokerHarness';

const CANARY = `canary-secret-mode-${randomUUID()}`;
const DAY_MS = 86_400_000;
/** The first secret version expires in 10 days: inside the 14-day warning threshold. */
const EXPIRES_IN_DAYS = 10;

describe('broker (createBroker), secret mode, against the emulator', () => {
  let harness: BrokerHarness;
  let startedMs: number;

  beforeAll(async () => {
    startedMs = Date.now();
    harness = await startBrokerHarness({
      credentialKind: 'secret',
      clientSecret: CANARY,
      tokenLifetimeSeconds: 700,
      secretExpiresInDays: EXPIRES_IN_DAYS,
    });
  });

  afterAll(async () => {
    await harness?.close();
  });

  beforeEach(() => harness.emulator.reset());

  it('serves a workload a contract-shaped token the third-party API accepts; the second call is a cache hit', async () => {
    await exerciseAcquireAndCache(harness);
    expect(harness.emulator.stats().keyVaultReads).toEqual({ [harness.emulator.broker.credentialName]: 1 });
  });

  it('refreshes ahead: past half-life the cached token is served and one background request replaces it', async () => {
    await exerciseRefreshAhead(harness);
  });

  it('warm-up: warns once that the secret expires within 14 days, and reports it expired once it has', async () => {
    const { broker } = harness.build();
    const first = await broker.runWarmup();
    const inUse = broker.credentialSource.peek()?.properties;
    expect(inUse?.kind).toBe('secret');
    expect(first.scopes.map((item) => item.outcome)).toEqual(harness.emulator.scopes.map(() => 'refreshed'));
    expect(first.credential).toMatchObject({
      kind: 'secret',
      version: inUse?.version,
      daysLeft: EXPIRES_IN_DAYS - 1,
      alerts: ['SecretExpiryWarning'],
    });
    const expiresOnMs = Date.parse(first.credential.expiresOn ?? '');
    expect(Math.abs(expiresOnMs - (startedMs + EXPIRES_IN_DAYS * DAY_MS))).toBeLessThan(60_000);
    expect(first.rotation).toBe('none');
    expect(first.alerts).toEqual(['SecretExpiryWarning']);
    const warning = harness.records('SecretExpiryWarning').at(-1);
    expect(warning).toMatchObject({
      level: 'warn',
      version: inUse?.version,
      details: { kind: 'secret', thresholdDays: 14 },
    });

    // The same condition is not alerted twice.
    const second = await broker.runWarmup();
    expect(second.scopes.map((item) => item.outcome)).toEqual(harness.emulator.scopes.map(() => 'fresh'));
    expect(second.alerts).toEqual([]);

    // A broker whose clock is past the expiry date (Entra, on real time, still accepts the secret).
    const late = harness.build({ clockOffsetMs: (EXPIRES_IN_DAYS + 1) * DAY_MS }).broker;
    const expired = await late.runWarmup();
    expect(expired.credential).toMatchObject({ kind: 'secret', daysLeft: -2, alerts: ['SecretExpired'] });
    expect(harness.records('SecretExpired').at(-1)).toMatchObject({ level: 'error', details: { kind: 'secret' } });
    expect((await late.runWarmup()).alerts).toEqual([]);
  });

  it('rotation with revokePrevious is recovered by the engine without a failed call', async () => {
    const scope = harness.emulator.scopes[0] as string;
    const { broker, callToken, clock } = harness.build();
    const answers: HarnessAnswer[] = [await callToken()];
    const oldVersion = broker.credentialSource.peek()?.properties.version;
    const oldToken = answers[0]?.body.access_token;

    const newVersion = await harness.rotate({ revokePrevious: true });
    answers.push(await callToken());
    // Past half-life: the cached token is served while the background refresh meets the revoked
    // secret (AADSTS7000215), reads the latest version from Key Vault and succeeds with it.
    clock.advance(360_000);
    answers.push(await callToken());
    expect((await broker.engine.refreshIfDue(scope)).outcome).not.toBe('failed');
    answers.push(await callToken());

    expect(statuses(answers)).toEqual([200, 200, 200, 200]);
    expect(answers[2]?.body.access_token).toBe(oldToken);
    const renewed = expectServedToken(answers[3] as HarnessAnswer, scope, clock.now());
    expect(renewed).not.toBe(oldToken);
    expect(await thirdPartyStatus(harness.emulator, renewed)).toBe(200);
    expect(broker.credentialSource.peek()?.properties.version).toBe(newVersion);
    expect(newVersion).not.toBe(oldVersion);
    expect(harness.records('CredentialRotated').at(-1)).toMatchObject({ version: newVersion });
    expect(harness.records('CredentialRejected')).toEqual([]);
    // The next warm-up run finds the broker on the latest version already.
    expect((await broker.runWarmup()).rotation).toBe('none');
  });

  it('rotation with revokePrevious is picked up by the warm-up run before any caller notices', async () => {
    const scope = harness.emulator.scopes[0] as string;
    const { broker, callToken, clock } = harness.build();
    const answers: HarnessAnswer[] = [await callToken()];
    // Every configured scope cached, so that no acquisition meets the revoked secret before the rotator does.
    expect((await broker.runWarmup()).scopes.map((item) => item.outcome)).toEqual(['fresh', 'refreshed']);
    const oldVersion = broker.credentialSource.peek()?.properties.version;

    const newVersion = await harness.rotate({ revokePrevious: true });
    answers.push(await callToken());
    const report = await broker.runWarmup();
    expect(report.rotation).toBe('rotated');
    expect(report.alerts).toEqual(['CredentialRotated']);
    expect(report.credential).toMatchObject({ version: newVersion, alerts: ['CredentialRotated'] });
    expect(harness.records('CredentialRotated').at(-1)).toMatchObject({
      version: newVersion,
      details: { previousVersion: oldVersion, kind: 'secret' },
    });
    expect(broker.credentialSource.peek()?.properties.version).toBe(newVersion);

    clock.advance(360_000);
    answers.push(await callToken());
    expect((await broker.engine.refreshIfDue(scope)).outcome).not.toBe('failed');
    answers.push(await callToken());
    expect(statuses(answers)).toEqual([200, 200, 200, 200]);
    expect(harness.records('TokenAcquisitionFailed')).toEqual([]);
  });

  it('leaks nothing: no secret, PEM, JWT, client_secret=, client_assertion= or Authorization value in any log line or response', () => {
    expectNoLeaks(harness, CANARY);
    expect(harness.records('CredentialLoaded').length).toBeGreaterThan(0);
  });
});
