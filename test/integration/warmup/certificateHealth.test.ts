/** the warm-up run watches a certificate's notAfter the way it watches a secret's expiry. */
import { startEmulator, type RunningEmulator } from '../../../dev/emulator';
import { buildWarmupBroker } from '../../support/fakes/warmupStack';
import { useIdentityEnv } from '../../support/identityEnv';

describe('warm-up run: certificate credential', () => {
  let emulator: RunningEmulator;
  let restoreIdentity: () => void;

  beforeAll(async () => {
    emulator = await startEmulator({ credentialKind: 'certificate', secretExpiresInDays: 10 });
    restoreIdentity = useIdentityEnv(emulator);
  });
  afterAll(async () => {
    restoreIdentity();
    await emulator.close();
  });

  it('warns once for the 14-day threshold of the certificate notAfter, marked kind=certificate', async () => {
    const broker = buildWarmupBroker(emulator);
    const report = await broker.run();
    await broker.run();
    expect(report.scopes.map((item) => item.outcome)).toEqual(emulator.scopes.map(() => 'refreshed'));
    expect(report.credential).toMatchObject({ kind: 'certificate', daysLeft: 9 });
    expect(broker.alerts).toEqual([
      expect.objectContaining({
        event: 'SecretExpiryWarning',
        version: report.credential.version,
        details: { kind: 'certificate', thresholdDays: 14 },
      }),
    ]);
    expect(broker.alerts[0]!.message).toContain('certificate');
  });
});
