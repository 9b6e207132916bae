/**
 * The whole broker built by `createBroker`, CLIENT_CREDENTIAL_KIND=certificate, against the
 * emulator: acquire through the front door (private_key_jwt with a Key Vault certificate), cache,
 * refresh ahead, the warm-up run watching the certificate's notAfter, rotation to a new certificate
 * version, a certificate Entra does not know, an expired certificate, and no private key, PEM,
 * assertion or token in any log line or response.
 *
 * The tests share one emulator (see brokerHarness) and run in order: each rotation leaves the
 * newest certificate version as the one a fresh broker loads.
 */
import { X509Certificate } from 'node:crypto';
import {
  type BrokerHarness,
  exerciseAcquireAndCache,
  exerciseRefreshAhead,
  expectNoLeaks,
  expectServedToken,
  expectUnavailable,
  type HarnessAnswer,
  startBrokerHarness,
  statuses,
  thirdPartyStatus,
} from '../../support/brokerHarness';

const DAY_MS = 86_400_000;
/** The first certificate's notAfter is 10 days away: inside the 14-day warning threshold. */
const EXPIRES_IN_DAYS = 10;

describe('broker (createBroker), certificate mode, against the emulator', () => {
  let harness: BrokerHarness;
  let startedMs: number;
  /** One base64 line of a private key the broker loaded (a canary for the leak check). */
  let privateKeyLine = '';

  beforeAll(async () => {
    startedMs = Date.now();
    harness = await startBrokerHarness({
      credentialKind: 'certificate',
      credentialName: 'broker-certificate',
      tokenLifetimeSeconds: 700,
      secretExpiresInDays: EXPIRES_IN_DAYS,
    });
  });

  afterAll(async () => {
    await harness?.close();
  });

  beforeEach(() => harness.emulator.reset());

  function alertsFor(version: string | undefined, events: readonly string[]): string[] {
    return harness
      .records()
      .filter((record) => record.component.endsWith('Alerts') && events.includes(record.event))
      .filter((record) => version === undefined || record.version === version)
      .map((record) => record.event);
  }

  it('serves a workload a contract-shaped token the third-party API accepts; the second call is a cache hit', async () => {
    await exerciseAcquireAndCache(harness);
    // The certificate with its key is read through its secret: one read.
    expect(harness.emulator.stats().keyVaultReads).toEqual({ 'broker-certificate': 1 });
  });

  it('refreshes ahead: past half-life the cached token is served and one background request replaces it', async () => {
    await exerciseRefreshAhead(harness);
  });

  it("warm-up: watches the certificate's notAfter and warns once inside the 14-day threshold", async () => {
    const { broker } = harness.build();
    const report = await broker.runWarmup();
    const inUse = broker.credentialSource.peek();
    if (inUse?.kind !== 'certificate') throw new Error('expected a certificate credential');
    const notAfterMs = Date.parse(new X509Certificate(inUse.pem).validTo);
    privateKeyLine = /PRIVATE KEY-----\s+(\S+)/.exec(inUse.pem)?.[1] ?? '';
    expect(Math.abs(notAfterMs - (startedMs + EXPIRES_IN_DAYS * DAY_MS))).toBeLessThan(60_000);

    expect(report.scopes.map((item) => item.outcome)).toEqual(harness.emulator.scopes.map(() => 'refreshed'));
    expect(report.credential).toEqual({
      kind: 'certificate',
      version: inUse.properties.version,
      expiresOn: new Date(notAfterMs).toISOString(),
      daysLeft: EXPIRES_IN_DAYS - 1,
      alerts: ['SecretExpiryWarning'],
    });
    expect(report.rotation).toBe('none');
    expect(harness.records('SecretExpiryWarning').at(-1)).toMatchObject({
      level: 'warn',
      version: inUse.properties.version,
      details: { kind: 'certificate', thresholdDays: 14 },
    });
    expect((await broker.runWarmup()).alerts).toEqual([]);
  });

  it('rotation: the warm-up run tries the new certificate version, switches to it (CredentialRotated), no call fails', async () => {
    const scope = harness.emulator.scopes[0] as string;
    const { broker, callToken, clock } = harness.build();
    const answers: HarnessAnswer[] = [await callToken()];
    await broker.runWarmup();
    const oldVersion = broker.credentialSource.peek()?.properties.version;

    const newVersion = await harness.rotate({});
    answers.push(await callToken());
    const report = await broker.runWarmup();
    answers.push(await callToken());

    expect(report.rotation).toBe('rotated');
    expect(report.alerts).toEqual(['CredentialRotated']);
    expect(report.credential).toMatchObject({ kind: 'certificate', version: newVersion, daysLeft: 89 });
    expect(broker.credentialSource.peek()?.properties.version).toBe(newVersion);
    expect(harness.records('CredentialRotated').at(-1)).toMatchObject({
      version: newVersion,
      details: { previousVersion: oldVersion, kind: 'certificate' },
    });
    expect(harness.records('TokenAcquired').at(-1)).toMatchObject({
      via: 'tryCredential',
      credentialVersion: newVersion,
    });

    // The next refresh uses the new certificate.
    clock.advance(360_000);
    answers.push(await callToken());
    expect((await broker.engine.refreshIfDue(scope)).outcome).not.toBe('failed');
    answers.push(await callToken());
    expect(statuses(answers)).toEqual([200, 200, 200, 200, 200]);
    expect(harness.records('TokenAcquired').at(-1)).toMatchObject({ via: 'acquire', credentialVersion: newVersion });
    const latest = expectServedToken(answers.at(-1) as HarnessAnswer, scope, clock.now());
    expect(await thirdPartyStatus(harness.emulator, latest)).toBe(200);
  });

  it('a certificate Entra does not know (revoked, no newer version): 503 with Retry-After and an alert; cached tokens still served', async () => {
    const { broker: warm, callToken: warmCall } = harness.build();
    expect((await warmCall()).status).toBe(200);
    const version = warm.credentialSource.peek()?.properties.version as string;
    harness.emulator.revokeCredential(version);

    const { callToken, health } = harness.build();
    const answer = await callToken();
    expectUnavailable(answer);
    expect(alertsFor(version, ['CredentialRejected', 'EntraConfigurationError'])).toHaveLength(1);
    const failure = harness.records('TokenAcquisitionFailed').at(-1);
    expect(failure).toMatchObject({ aadsts: 700027, credentialVersion: version });
    expect((await health()).status).toBe(503);
    // Remembered: the next caller is refused without another request to Entra.
    const requests = harness.entraRequests();
    expectUnavailable(await callToken());
    expect(harness.entraRequests()).toBe(requests);
    // A broker that already holds a token keeps serving it.
    expect((await warmCall()).status).toBe(200);
  });

  it('an expired certificate: 503 with Retry-After and a CredentialExpired alert; the warm-up run reports it expired', async () => {
    const version = await harness.rotate({ expiresInDays: 0 });
    const { broker, callToken } = harness.build();
    const answer = await callToken();
    expectUnavailable(answer);
    expect(broker.credentialSource.peek()?.properties.version).toBe(version);
    expect(alertsFor(version, ['CredentialExpired'])).toEqual(['CredentialExpired']);
    expect(harness.records('TokenAcquisitionFailed').at(-1)).toMatchObject({
      code: 'entra_credential_expired',
      aadsts: 700027,
    });

    const report = await broker.runWarmup();
    expect(report.credential).toMatchObject({ kind: 'certificate', version, alerts: ['SecretExpired'] });
    expect(harness.records('SecretExpired').at(-1)).toMatchObject({ details: { kind: 'certificate' } });
  });

  // Regression guard for a bug found here: AADSTS700027 "key not found" (the certificate analogue of
  // a wrong secret, AADSTS7000215) is classified entra_configuration, so the engine never reloads the
  // latest certificate and callers get 503 until the next warm-up run rotates.
  it('rotation with revokePrevious (old certificate removed from the app at once) is recovered without a failed call (AADSTS700027 must reload the latest certificate)', async () => {
    const scope = harness.emulator.scopes[0] as string;
    await harness.rotate({});
    const { broker, callToken, clock } = harness.build();
    const answers: HarnessAnswer[] = [await callToken()];
    await broker.runWarmup();

    const newVersion = await harness.rotate({ revokePrevious: true });
    // Past half-life: the background refresh meets the removed certificate (AADSTS700027 "key not
    // found"); like a revoked secret, it should read the latest version and succeed with it.
    clock.advance(360_000);
    answers.push(await callToken());
    await broker.engine.refreshIfDue(scope);
    // Past the point where the old token may be served: a token must come from somewhere.
    clock.advance(60_000);
    answers.push(await callToken());

    expect(statuses(answers)).toEqual([200, 200, 200]);
    expect(broker.credentialSource.peek()?.properties.version).toBe(newVersion);
  });

  it('leaks nothing: no private key, PEM, JWT, client_assertion=, client_secret= or Authorization value in any log line or response', () => {
    expect(privateKeyLine.length).toBeGreaterThanOrEqual(32);
    expectNoLeaks(harness, privateKeyLine);
  });
});
