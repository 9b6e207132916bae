/** with a federated credential the timer says there is nothing to expire, instead of warning. */
import { startEmulator, type RunningEmulator } from '../../../dev/emulator';
import { buildWarmupBroker } from '../../support/fakes/warmupStack';
import { useIdentityEnv } from '../../support/identityEnv';

describe('warm-up run: federated credential', () => {
  let emulator: RunningEmulator;
  let restoreIdentity: () => void;

  beforeAll(async () => {
    emulator = await startEmulator({ credentialKind: 'federated' });
    restoreIdentity = useIdentityEnv(emulator);
  });
  afterAll(async () => {
    restoreIdentity();
    await emulator.close();
  });

  it('says once that there is nothing to expire or rotate, and reads nothing from Key Vault', async () => {
    const broker = buildWarmupBroker(emulator);
    emulator.reset();
    const first = await broker.run();
    broker.clock.advanceDays(400);
    const second = await broker.run();
    expect(first.scopes.map((item) => item.outcome)).toEqual(emulator.scopes.map(() => 'refreshed'));
    expect(first.credential).toEqual({ kind: 'federated', alerts: ['CredentialNotExpiring'] });
    expect(first.rotation).toBeUndefined();
    expect(second.alerts).toEqual([]);
    expect(broker.events()).toEqual(['CredentialNotExpiring']);
    expect(broker.logs.find((item) => item.record.event === 'CredentialNotExpiring')?.level).toBe('info');
    expect(emulator.stats().keyVaultReads).toEqual({});
  });
});
