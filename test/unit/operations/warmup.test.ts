import type { Alert } from '../../../src/contract/alert';
import { BrokerError } from '../../../src/contract/errors';
import { silentLogger } from '../../support/silentLogger';
import { createWarmupRunner, warmupIntervalMs } from '../../../src/operations/warmup';
import {
  FakeCredentialSource,
  FakeWarmupEngine,
  ManualClock,
  rejected,
  SCOPE_A,
  SCOPE_B,
  START_MS,
  warmupConfig,
} from '../../support/fakes/warmupFakes';
import { RecordingAlerts } from '../../support/fakes/recordingAlerts';

const FIVE_MINUTES = 5 * 60_000;

function setup(settings: Record<string, string> = {}, firstVersion: { expiresInDays?: number | null } = {}) {
  const clock = new ManualClock();
  const config = warmupConfig(settings);
  const source = new FakeCredentialSource(clock);
  if (config.credentialKind !== 'federated') source.addVersion(firstVersion);
  const engine = new FakeWarmupEngine(clock, source);
  const sink = new RecordingAlerts();
  const run = createWarmupRunner({
    config,
    engine,
    credentialSource: source,
    alerts: sink,
    logger: silentLogger,
    clock,
  });
  return { clock, config, source, engine, sink, run };
}

describe('warmupIntervalMs', () => {
  it.each([
    ['0 */5 * * * *', 300_000],
    ['*/10 * * * * *', 10_000],
    ['0 0 * * * *', 3_600_000],
    ['0 0 8,20 * * *', 12 * 3_600_000],
  ])('%s → %p ms', (schedule, expected) => {
    expect(warmupIntervalMs(schedule, START_MS)).toBe(expected);
  });
});

describe('createWarmupRunner', () => {
  it('refreshes every configured scope and reports each outcome', async () => {
    const { engine, run } = setup();
    engine.outcomes.set(SCOPE_B, { scope: SCOPE_B, outcome: 'refreshed' });
    const report = await run();
    expect(engine.refreshCalls.sort()).toEqual([SCOPE_A, SCOPE_B].sort());
    expect(report.scopes).toEqual([
      { scope: SCOPE_A, outcome: 'fresh' },
      { scope: SCOPE_B, outcome: 'refreshed' },
    ]);
    expect(report.rotation).toBe('none');
    expect(report.credential).toMatchObject({ kind: 'secret', version: 'v1', daysLeft: 90, alerts: [] });
  });

  it('a failed refresh is an outcome, not an exception', async () => {
    const { engine, run } = setup();
    const error = new BrokerError('entra_transient', 'Entra answered 503.');
    engine.outcomes.set(SCOPE_A, { scope: SCOPE_A, outcome: 'failed', error });
    const report = await run();
    expect(report.scopes[0]).toEqual({ scope: SCOPE_A, outcome: 'failed', error });
  });

  it('reads only properties on each run, never the value again while the version is unchanged', async () => {
    const { source, run, clock } = setup();
    await run();
    const valueReads = source.valueReads;
    for (let i = 0; i < 4; i += 1) {
      clock.advance(FIVE_MINUTES);
      await run();
    }
    expect(source.valueReads).toBe(valueReads);
    expect(source.propertyReads).toBe(5);
  });

  it('secret expiring in 10 days → one warning for the 14-day threshold, not one per run; then the 7-day one', async () => {
    const { clock, sink, run } = setup({}, { expiresInDays: 10 });
    const first = await run();
    for (let i = 0; i < 10; i += 1) {
      clock.advance(FIVE_MINUTES);
      await run();
    }
    expect(first.credential.alerts).toEqual(['SecretExpiryWarning']);
    expect(sink.ofEvent('SecretExpiryWarning').map((alert) => alert.details?.thresholdDays)).toEqual([14]);

    clock.advanceDays(3.1);
    const later = await run();
    await run();
    expect(later.credential.daysLeft).toBe(6);
    expect(sink.ofEvent('SecretExpiryWarning').map((alert) => alert.details?.thresholdDays)).toEqual([14, 7]);
  });

  it('expired, no expiry date and disabled secrets each alert once', async () => {
    const expired = setup({}, { expiresInDays: 0.01 });
    expired.clock.advanceDays(1);
    await expired.run();
    await expired.run();
    expect(expired.sink.events()).toEqual(['SecretExpired']);

    const unknown = setup({}, { expiresInDays: null });
    await unknown.run();
    await unknown.run();
    expect(unknown.sink.events()).toEqual(['SecretExpiryUnknown']);

    const disabled = setup();
    await disabled.run();
    disabled.source.setEnabled('v1', false);
    const report = await disabled.run();
    await disabled.run();
    expect(report.credential.alerts).toEqual(['SecretDisabled']);
    expect(disabled.sink.events()).toEqual(['SecretDisabled']);
  });

  it('rotates to a newer version that works, then watches the new version', async () => {
    const { source, sink, run } = setup({}, { expiresInDays: 5 });
    await run();
    source.addVersion({ expiresInDays: 365 });
    const report = await run();
    expect(report.rotation).toBe('rotated');
    expect(report.credential).toMatchObject({ version: 'v2', daysLeft: 365, alerts: ['CredentialRotated'] });
    expect(source.peek()?.properties.version).toBe('v2');
    expect(sink.events()).toEqual(['SecretExpiryWarning', 'CredentialRotated']);
    expect((await run()).rotation).toBe('none');
  });

  it('keeps the old version when the new one is refused, and keeps warning about the old one', async () => {
    const { clock, source, engine, sink, run } = setup({}, { expiresInDays: 10 });
    await run();
    const v2 = source.addVersion({ expiresInDays: 365 });
    engine.refuse.set(v2, rejected(v2));
    const report = await run();
    expect(report.rotation).toBe('failed');
    expect(report.credential).toMatchObject({ version: 'v1', alerts: ['CredentialRotationFailed'] });
    expect(source.peek()?.properties.version).toBe('v1');
    clock.advanceDays(4);
    await run();
    expect(sink.alerts.map((alert: Alert) => [alert.event, alert.version])).toEqual([
      ['SecretExpiryWarning', 'v1'],
      ['CredentialRotationFailed', v2],
      ['SecretExpiryWarning', 'v1'],
    ]);
  });

  it('the version in use disabled while an older one is enabled: SecretDisabled, then a tried switch to the older one', async () => {
    const { source, sink, run } = setup();
    const v2 = source.addVersion();
    await run();
    expect(source.peek()?.properties.version).toBe(v2);
    source.setEnabled(v2, false);
    const report = await run();
    expect(report.rotation).toBe('rotated');
    expect(report.credential).toMatchObject({ version: 'v1', alerts: ['SecretDisabled', 'CredentialRotated'] });
    expect(sink.alerts.map((alert: Alert) => [alert.event, alert.version])).toEqual([
      ['SecretDisabled', v2],
      ['CredentialRotated', 'v1'],
    ]);
  });

  it('Key Vault unreachable: one KeyVaultAccessFailed per failure streak, the loaded version is still watched', async () => {
    const { source, sink, run } = setup({}, { expiresInDays: 10 });
    await run();
    source.failPropertiesWith = new BrokerError('keyvault_forbidden', 'Key Vault refused.', { upstreamStatus: 403 });
    const report = await run();
    await run();
    expect(report.credential).toMatchObject({ version: 'v1', alerts: ['KeyVaultAccessFailed'] });
    expect(sink.ofEvent('KeyVaultAccessFailed')).toHaveLength(1);
    expect(sink.ofEvent('KeyVaultAccessFailed')[0]).toMatchObject({
      severity: 'error',
      details: { code: 'keyvault_forbidden', status: 403 },
    });
    source.failPropertiesWith = undefined;
    await run();
    source.failPropertiesWith = new BrokerError('keyvault_forbidden', 'Key Vault refused.', { upstreamStatus: 403 });
    await run();
    expect(sink.ofEvent('KeyVaultAccessFailed')).toHaveLength(2);
    source.failPropertiesWith = new BrokerError('keyvault_timeout', 'Key Vault did not answer.');
    await run();
    expect(sink.ofEvent('KeyVaultAccessFailed').map((alert) => alert.severity)).toEqual(['error', 'error', 'warning']);
  });

  it('TokenRefreshFailing once per failing streak, only after a whole refresh window (the warm-up interval)', async () => {
    const { clock, engine, sink, run } = setup();
    const error = rejected('v1');
    engine.failingSince.set(SCOPE_B, clock.now());
    engine.outcomes.set(SCOPE_B, { scope: SCOPE_B, outcome: 'failed', error });
    await run();
    clock.advance(FIVE_MINUTES - 1);
    await run();
    expect(sink.ofEvent('TokenRefreshFailing')).toEqual([]);

    clock.advance(1);
    const report = await run();
    clock.advance(FIVE_MINUTES);
    await run();
    expect(report.alerts).toEqual(['TokenRefreshFailing']);
    expect(report.credential.alerts).toEqual([]);
    expect(sink.ofEvent('TokenRefreshFailing')).toEqual([
      expect.objectContaining({
        severity: 'error',
        details: expect.objectContaining({
          scope: SCOPE_B,
          code: 'entra_credential_rejected',
          aadsts: 7000215,
          failingForSeconds: 300,
          refreshWindowSeconds: 300,
        }),
      }),
    ]);

    // Recovered, then failing again: a new streak is alerted again.
    engine.failingSince.delete(SCOPE_B);
    await run();
    engine.failingSince.set(SCOPE_B, clock.now());
    clock.advance(FIVE_MINUTES);
    await run();
    expect(sink.ofEvent('TokenRefreshFailing')).toHaveLength(2);
  });

  it('federated: says once that nothing expires, reads nothing from Key Vault, does not rotate', async () => {
    const { source, sink, run } = setup({ CLIENT_CREDENTIAL_KIND: 'federated' });
    const first = await run();
    const second = await run();
    expect(first.credential).toEqual({ kind: 'federated', alerts: ['CredentialNotExpiring'] });
    expect(first.rotation).toBeUndefined();
    expect(second.alerts).toEqual([]);
    expect(sink.events()).toEqual(['CredentialNotExpiring']);
    expect(source.propertyReads).toBe(0);
  });

  it('waits for the alert sink to flush its webhook posts before the run ends', async () => {
    const clock = new ManualClock();
    const source = new FakeCredentialSource(clock);
    source.addVersion({ expiresInDays: 2 });
    const events: string[] = [];
    const alerts = {
      raise: (alert: Alert) => events.push(`raise:${alert.event}`),
      flush: async () => {
        await new Promise((resolve) => setTimeout(resolve, 5));
        events.push('flushed');
      },
    };
    const run = createWarmupRunner({
      config: warmupConfig(),
      engine: new FakeWarmupEngine(clock, source),
      credentialSource: source,
      alerts,
      logger: silentLogger,
      clock,
    });
    await run();
    expect(events).toEqual(['raise:SecretExpiryWarning', 'flushed']);
  });

  it('a bug in one step does not stop the others, and then surfaces', async () => {
    const { engine, source, sink, run } = setup({}, { expiresInDays: 3.5 });
    engine.failingSinceMs = () => {
      throw new TypeError('bug');
    };
    await expect(run()).rejects.toThrow(TypeError);
    expect(engine.refreshCalls).toHaveLength(2);
    expect(source.propertyReads).toBe(1);
    expect(sink.events()).toEqual(['SecretExpiryWarning']);
  });

  it('concurrent calls share the run in progress', async () => {
    const { engine, run } = setup();
    const [a, b] = await Promise.all([run(), run()]);
    expect(a).toBe(b);
    expect(engine.refreshCalls).toHaveLength(2);
    await run();
    expect(engine.refreshCalls).toHaveLength(4);
  });
});
