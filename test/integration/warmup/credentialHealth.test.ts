/**
 * Credential health and certificate notAfter, federated: the warm-up run against
 * the emulator with the real Key Vault source, Entra client and token engine.
 */
import { startEmulator, type RunningEmulator } from '../../../dev/emulator';
import { buildWarmupBroker, nextSecond } from '../../support/fakes/warmupStack';
import { useIdentityEnv } from '../../support/identityEnv';

const FIVE_MINUTES = 5 * 60_000;

describe('warm-up run: credential health (secret)', () => {
  let emulator: RunningEmulator;
  let restoreIdentity: () => void;
  /** Every version this file created, the emulator's first one included. */
  const versions: string[] = [];

  // Key Vault's `created` has one-second resolution; each new version gets its own second so that
  // "newest" is unambiguous (see rotation.ts).
  async function newVersion(expiresInDays: number | null): Promise<string> {
    await nextSecond();
    const { version } = await emulator.rotate({ expiresInDays });
    versions.push(version);
    return version;
  }

  beforeAll(async () => {
    // One emulator per file: MSAL keeps managed identity tokens and the identity endpoint in
    // process-wide statics, so a second emulator in the same process would get the first one's token.
    emulator = await startEmulator();
    restoreIdentity = useIdentityEnv(emulator);
    const probe = buildWarmupBroker(emulator);
    await probe.run();
    versions.push(probe.source.peek()!.properties.version);
  });
  afterAll(async () => {
    restoreIdentity();
    await emulator.close();
  });

  it('warms every scope, then a secret expiring in 10 days gives ONE warning for 14 days, not one per run; the 7-day one when the clock passes it', async () => {
    const version = await newVersion(10);
    const broker = buildWarmupBroker(emulator);
    const name = broker.config.credentialName;
    emulator.reset();

    const first = await broker.run();
    expect(first.scopes.map((item) => [item.scope, item.outcome])).toEqual(
      emulator.scopes.map((scope) => [scope, 'refreshed']),
    );
    for (let i = 0; i < 4; i += 1) {
      broker.clock.advance(FIVE_MINUTES);
      const again = await broker.run();
      expect(again.scopes.every((item) => item.outcome === 'fresh')).toBe(true);
    }
    expect(first.credential).toMatchObject({ kind: 'secret', version, daysLeft: 9, alerts: ['SecretExpiryWarning'] });
    expect(first.rotation).toBe('none');
    expect(broker.ofEvent('SecretExpiryWarning').map((alert) => alert.details?.thresholdDays)).toEqual([14]);
    // The value was read once (first load); every later run read properties only.
    expect(emulator.stats().keyVaultReads[name]).toBe(1);
    // One Entra request per scope: later runs found the tokens fresh.
    expect(Object.values(emulator.stats().tokenRequests[broker.config.clientId] ?? {})).toEqual([1, 1]);

    const line = broker.logs.find((item) => item.record.event === 'SecretExpiryWarning');
    expect(line?.level).toBe('warn');
    expect(line?.record).toMatchObject({
      severity: 'warning',
      credentialName: name,
      version,
      expiresOn: first.credential.expiresOn,
      daysLeft: 9,
    });

    broker.clock.advanceDays(3.1);
    const later = await broker.run();
    await broker.run();
    expect(later.credential.daysLeft).toBe(6);
    expect(later.scopes.every((item) => item.outcome === 'refreshed')).toBe(true);
    expect(broker.ofEvent('SecretExpiryWarning').map((alert) => alert.details?.thresholdDays)).toEqual([14, 7]);
    expect(emulator.stats().keyVaultReads[name]).toBe(1);
  });

  it('a secret without expiry date → one SecretExpiryUnknown', async () => {
    const version = await newVersion(null);
    const broker = buildWarmupBroker(emulator);
    const report = await broker.run();
    await broker.run();
    expect(report.credential).toMatchObject({ version, expiresOn: undefined, daysLeft: undefined });
    expect(broker.events()).toEqual(['SecretExpiryUnknown']);
    expect(broker.logs.find((item) => item.record.event === 'SecretExpiryUnknown')?.level).toBe('warn');
  });

  it('an expired secret → one SecretExpired (error)', async () => {
    const version = await newVersion(0.5);
    const broker = buildWarmupBroker(emulator);
    await broker.run();
    broker.clock.advanceDays(1);
    const report = await broker.run();
    await broker.run();
    expect(report.credential).toMatchObject({ version, daysLeft: -1 });
    expect(broker.events()).toEqual(['SecretExpiryWarning', 'SecretExpired']);
    expect(broker.ofEvent('SecretExpired')).toEqual([expect.objectContaining({ severity: 'error', version })]);
    expect(broker.logs.filter((item) => item.record.event === 'SecretExpired').map((item) => item.level)).toEqual([
      'error',
    ]);
  });

  it('the version in use disabled while an older one is enabled → SecretDisabled, then a tried switch to the older one', async () => {
    const older = await newVersion(90);
    const newer = await newVersion(90);
    const broker = buildWarmupBroker(emulator);
    await broker.run();
    expect(broker.source.peek()?.properties.version).toBe(newer);

    emulator.setSecretEnabled(newer, false);
    const report = await broker.run();
    await broker.run();
    expect(broker.alerts.map((alert) => [alert.event, alert.version])).toEqual([
      ['SecretDisabled', newer],
      ['CredentialRotated', older],
    ]);
    expect(report.rotation).toBe('rotated');
    expect(broker.source.peek()?.properties.version).toBe(older);
  });

  it('the only enabled version disabled → one SecretDisabled; the token already cached keeps serving', async () => {
    const version = await newVersion(90);
    const broker = buildWarmupBroker(emulator);
    await broker.run();
    expect(broker.source.peek()?.properties.version).toBe(version);
    for (const each of versions) emulator.setSecretEnabled(each, false);
    const report = await broker.run();
    await broker.run();
    expect(report.credential).toMatchObject({ version, alerts: ['SecretDisabled'] });
    expect(report.rotation).toBe('none');
    expect(broker.events()).toEqual(['SecretDisabled']);
    expect(broker.ofEvent('SecretDisabled')[0]).toMatchObject({ severity: 'error', version });
    await expect(broker.engine.getToken(emulator.scopes[0]!)).resolves.toMatchObject({ cacheHit: true });
  });
});
