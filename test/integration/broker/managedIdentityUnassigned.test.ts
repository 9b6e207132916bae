/**
 * The broker's managed identity refused by the managed identity endpoint (identity not assigned to
 * the app, or a wrong AZURE_CLIENT_ID): App Service answers 400 {statusCode, message,
 * correlationId}. A configuration failure with its own code and alert, not an outage to retry.
 * Its own file: MSAL caches managed identity tokens process-wide, so the refusal only shows while no
 * token has been fetched for that identity in this jest worker.
 */
import { type BrokerHarness, expectUnavailable, startBrokerHarness } from '../../support/brokerHarness';

describe('broker (createBroker), federated mode, its managed identity not assigned', () => {
  let harness: BrokerHarness;

  beforeAll(async () => {
    harness = await startBrokerHarness({ credentialKind: 'federated' });
  });

  afterAll(async () => {
    await harness?.close();
  });

  it('the broker identity not assigned (wrong AZURE_CLIENT_ID): 503 temporarily_unavailable, a ManagedIdentityFailed alert naming the setting, no fast retry', async () => {
    const { emulator } = harness;
    emulator.reset();
    emulator.setManagedIdentityAssigned(emulator.managedIdentity.clientId, false);
    try {
      const { callToken } = harness.build();
      const first = await callToken();
      expectUnavailable(first);
      expect(harness.records('TokenAcquisitionFailed').at(-1)).toMatchObject({ code: 'managed_identity_unavailable' });
      const alert = harness.records('ManagedIdentityFailed').at(-1);
      expect(alert).toMatchObject({ severity: 'error' });
      expect(String(alert?.message)).toMatch(/AZURE_CLIENT_ID/);
      // A configuration failure is remembered: the next caller does not hit the endpoint again at once.
      const before = emulator.stats().managedIdentityRequests;
      expectUnavailable(await callToken());
      expect(emulator.stats().managedIdentityRequests).toBe(before);
    } finally {
      emulator.setManagedIdentityAssigned(emulator.managedIdentity.clientId, true);
    }
  });
});
