/**
 * The whole broker built by `createBroker`, CLIENT_CREDENTIAL_KIND=federated, against the emulator:
 * the broker's managed identity token (audience api://AzureADTokenExchange) is its client
 * assertion. Acquire through the front door, cache, refresh ahead, the warm-up run saying there is
 * nothing to expire (and never touching Key Vault), a federated mismatch, and no assertion or token
 * in any log line or response.
 */
import { randomUUID } from 'node:crypto';
import {
  type BrokerHarness,
  exerciseAcquireAndCache,
  exerciseRefreshAhead,
  expectNoLeaks,
  expectUnavailable,
  startBrokerHarness,
} from '../../support/brokerHarness';

describe('broker (createBroker), federated mode, against the emulator', () => {
  let harness: BrokerHarness;
  /** Nothing secret exists in this mode; a made-up value proves the leak check works here too. */
  const canary = `canary-federated-mode-${randomUUID()}`;

  beforeAll(async () => {
    harness = await startBrokerHarness({ credentialKind: 'federated', tokenLifetimeSeconds: 700 });
    harness.addCanary(canary);
  });

  afterAll(async () => {
    await harness?.close();
  });

  beforeEach(() => harness.emulator.reset());

  it('serves a workload a contract-shaped token the third-party API accepts; the second call is a cache hit', async () => {
    await exerciseAcquireAndCache(harness);
    expect(harness.emulator.stats().keyVaultReads).toEqual({});
  });

  it('refreshes ahead: past half-life the cached token is served and one background request replaces it', async () => {
    await exerciseRefreshAhead(harness);
  });

  it('warm-up: CredentialNotExpiring once, no rotation, no expiry, no Key Vault read', async () => {
    const { broker } = harness.build();
    const first = await broker.runWarmup();
    expect(first).toEqual({
      scopes: harness.emulator.scopes.map((scope) => ({ scope, outcome: 'refreshed' })),
      credential: { kind: 'federated', alerts: ['CredentialNotExpiring'] },
      alerts: ['CredentialNotExpiring'],
    });
    expect(harness.records('CredentialNotExpiring').at(-1)).toMatchObject({
      level: 'info',
      severity: 'info',
      details: { kind: 'federated' },
    });
    const second = await broker.runWarmup();
    expect(second).toEqual({
      scopes: harness.emulator.scopes.map((scope) => ({ scope, outcome: 'fresh' })),
      credential: { kind: 'federated', alerts: [] },
      alerts: [],
    });
    // Even far in the future there is nothing to warn about.
    const later = await harness.build({ clockOffsetMs: 400 * 86_400_000 }).broker.runWarmup();
    expect(later.credential).toEqual({ kind: 'federated', alerts: ['CredentialNotExpiring'] });
    for (const event of ['SecretExpiryWarning', 'SecretExpired', 'SecretExpiryUnknown', 'KeyVaultAccessFailed']) {
      expect(harness.records(event)).toEqual([]);
    }
    expect(harness.emulator.stats().keyVaultReads).toEqual({});
    expect(harness.emulator.stats().managedIdentityRequests).toBeLessThanOrEqual(1);
  });

  it('a federated mismatch (the app registration has no federated credential for this identity): 503 with Retry-After and an alert', async () => {
    // The emulator has no drill that edits the broker app's federated credential, so the broker is
    // pointed at another app registration of the tenant (one without any federated credential):
    // the managed identity's assertion then matches nothing on that app.
    const otherApp = harness.emulator.callers[0]?.clientId as string;
    const { callToken, health } = harness.build({ settings: { ENTRA_CLIENT_ID: otherApp } });
    const answer = await callToken();
    expectUnavailable(answer);
    const requests = harness.emulator.stats().tokenRequests[otherApp] ?? {};
    expect(requests[harness.emulator.scopes[0] as string]).toBe(1);
    const failure = harness.records('TokenAcquisitionFailed').at(-1);
    // The emulator answers 700027 ("key not found") for an app with no federated credential and no
    // certificate (the assertion carries an x5t), 700211 (no record for that issuer) otherwise.
    // Either is a refusal of the credential or of the configuration.
    expect(['entra_configuration', 'entra_credential_rejected']).toContain(failure?.code);
    expect([700211, 700027]).toContain(failure?.aadsts);
    const alert = harness
      .records()
      .filter((record) => record.component.endsWith('Alerts'))
      .at(-1);
    expect(['EntraConfigurationError', 'CredentialRejected']).toContain(alert?.event);
    expect(alert).toMatchObject({ severity: 'error', details: { aadsts: failure?.aadsts } });
    expect((await health()).status).toBe(503);
    expect(harness.emulator.stats().keyVaultReads).toEqual({});
  });

  it('a federated credential trusting another subject: 401 AADSTS700213 → 503, a configuration alert about the federated credential, no retry storm', async () => {
    const { emulator } = harness;
    emulator.setFederatedSubject('00000000-0000-0000-0000-00000000dead');
    const rejectedBefore = harness.records('CredentialRejected').length;
    try {
      const { callToken } = harness.build();
      const first = await callToken();
      expectUnavailable(first);
      const failure = harness.records('TokenAcquisitionFailed').at(-1);
      expect(failure).toMatchObject({ code: 'entra_configuration', aadsts: 700213 });
      const alert = harness.records('EntraConfigurationError').at(-1);
      expect(alert).toMatchObject({ severity: 'error' });
      // The advice is about the federated credential, not about Key Vault versions (there are none).
      expect(String(alert?.message)).toMatch(/federated/i);
      expect(harness.records('CredentialRejected')).toHaveLength(rejectedBefore);
      // The refusal is remembered: the next caller does not make Entra refuse it again.
      const before = harness.entraRequests();
      expectUnavailable(await callToken());
      expect(harness.entraRequests()).toBe(before);
    } finally {
      emulator.setFederatedSubject(emulator.managedIdentity.principalId);
    }
  });

  it('leaks nothing: no assertion, JWT, PEM, client_assertion=, client_secret= or Authorization value in any log line or response', () => {
    expectNoLeaks(harness, canary);
  });
});
