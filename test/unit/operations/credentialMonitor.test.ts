import {
  createCredentialMonitor,
  DAY_MS,
  tightestCrossedThreshold,
  wholeDaysLeft,
} from '../../../src/operations/credentialMonitor';
import type { CredentialProperties } from '../../../src/credentials/credentialTypes';
import { ManualClock, warmupConfig } from '../../support/fakes/warmupFakes';
import { RecordingAlerts } from '../../support/fakes/recordingAlerts';
import { fakeProperties } from '../../support/fakes/fakeCredentialSource';

function props(
  clock: ManualClock,
  overrides: Partial<CredentialProperties> & { expiresInDays?: number | null },
): CredentialProperties {
  const { expiresInDays = 90, ...rest } = overrides;
  return fakeProperties({
    expiresOnMs: expiresInDays === null ? undefined : clock.now() + expiresInDays * DAY_MS,
    ...rest,
  });
}

function setup(settings: Record<string, string> = {}): {
  clock: ManualClock;
  sink: RecordingAlerts;
  monitor: ReturnType<typeof createCredentialMonitor>;
} {
  const clock = new ManualClock();
  const sink = new RecordingAlerts();
  const monitor = createCredentialMonitor({ config: warmupConfig(settings), alerts: sink, clock });
  return { clock, sink, monitor };
}

describe('tightestCrossedThreshold', () => {
  const thresholds = [30, 14, 7, 3, 1];
  it.each([
    [40, undefined],
    [30, undefined], // exactly 30 days left is not fewer than 30
    [29.9, 30],
    [10, 14],
    [6.5, 7],
    [0.5, 1],
    [0, undefined],
    [-2, undefined],
  ])('%p days left → %p', (days, expected) => {
    expect(tightestCrossedThreshold(days * DAY_MS, thresholds)).toBe(expected);
  });

  it('does not depend on the order of the thresholds', () => {
    expect(tightestCrossedThreshold(10 * DAY_MS, [7, 30, 14])).toBe(14);
  });
});

describe('wholeDaysLeft', () => {
  it('rounds down, and is negative once expired', () => {
    expect(wholeDaysLeft(10 * DAY_MS - 1, 0)).toBe(9);
    expect(wholeDaysLeft(10 * DAY_MS, 0)).toBe(10);
    expect(wholeDaysLeft(-2 * 3_600_000, 0)).toBe(-1);
  });
});

describe('createCredentialMonitor', () => {
  it('warns once for the tightest crossed threshold (14 for a secret with 10 days left), not on every run', () => {
    const { clock, sink, monitor } = setup();
    const properties = props(clock, { expiresInDays: 10 });
    const first = monitor.check(properties);
    for (let run = 0; run < 5; run += 1) {
      clock.advance(5 * 60_000);
      monitor.check(properties);
    }
    expect(first.alerts).toEqual(['SecretExpiryWarning']);
    expect(sink.events()).toEqual(['SecretExpiryWarning']);
    expect(sink.alerts[0]).toMatchObject({
      severity: 'warning',
      credentialName: 'entra-client-secret',
      version: 'v1',
      daysLeft: 10,
      expiresOn: new Date(properties.expiresOnMs!).toISOString(),
      details: { kind: 'secret', thresholdDays: 14 },
    });
  });

  it('warns again when the clock passes the next threshold (7 days), and later ones in turn', () => {
    const { clock, sink, monitor } = setup();
    const properties = props(clock, { expiresInDays: 10 });
    monitor.check(properties);
    clock.advanceDays(2.9); // 7.1 days left: still the 14-day band
    monitor.check(properties);
    clock.advanceDays(0.2); // 6.9 days left
    monitor.check(properties);
    monitor.check(properties);
    clock.advanceDays(6.5); // 0.4 days left
    monitor.check(properties);
    expect(sink.ofEvent('SecretExpiryWarning').map((alert) => alert.details?.thresholdDays)).toEqual([14, 7, 1]);
  });

  it('warns for a new version separately, and does not repeat a looser threshold after a tighter one', () => {
    const { clock, sink, monitor } = setup();
    monitor.check(props(clock, { expiresInDays: 5 }));
    monitor.check(props(clock, { expiresInDays: 5, version: 'v2' }));
    // The same version seen with a later expiry (operator extended it): no repeat of a looser band.
    monitor.check(props(clock, { expiresInDays: 20 }));
    expect(sink.alerts.map((alert) => [alert.version, alert.details?.thresholdDays])).toEqual([
      ['v1', 7],
      ['v2', 7],
    ]);
  });

  it('raises SecretExpired (error) once per version when expired', () => {
    const { clock, sink, monitor } = setup();
    const properties = props(clock, { expiresInDays: 0.5 });
    monitor.check(properties);
    clock.advanceDays(1);
    const expired = monitor.check(properties);
    monitor.check(properties);
    expect(sink.events()).toEqual(['SecretExpiryWarning', 'SecretExpired']);
    expect(expired.daysLeft).toBe(-1);
    expect(sink.ofEvent('SecretExpired')[0]).toMatchObject({ severity: 'error', version: 'v1', daysLeft: -1 });
  });

  it('raises SecretExpiryUnknown once per version when there is no expiry date', () => {
    const { clock, sink, monitor } = setup();
    const health = monitor.check(props(clock, { expiresInDays: null }));
    monitor.check(props(clock, { expiresInDays: null }));
    monitor.check(props(clock, { expiresInDays: null, version: 'v2' }));
    expect(health).toMatchObject({ kind: 'secret', version: 'v1', expiresOn: undefined, daysLeft: undefined });
    expect(sink.alerts.map((alert) => [alert.event, alert.severity, alert.version])).toEqual([
      ['SecretExpiryUnknown', 'warning', 'v1'],
      ['SecretExpiryUnknown', 'warning', 'v2'],
    ]);
  });

  it('raises SecretDisabled (error) once when the version in use is disabled', () => {
    const { clock, sink, monitor } = setup();
    monitor.check(props(clock, { enabled: false }));
    monitor.check(props(clock, { enabled: false }));
    expect(sink.events()).toEqual(['SecretDisabled']);
    expect(sink.alerts[0]).toMatchObject({ severity: 'error', version: 'v1' });
  });

  it('raises nothing for a healthy secret far from expiry', () => {
    const { clock, sink, monitor } = setup();
    expect(monitor.check(props(clock, { expiresInDays: 90 })).alerts).toEqual([]);
    expect(sink.alerts).toEqual([]);
  });

  it('watches a certificate notAfter with the same events, marked kind=certificate', () => {
    const { clock, sink, monitor } = setup({ CLIENT_CREDENTIAL_KIND: 'certificate' });
    monitor.check(props(clock, { kind: 'certificate', expiresInDays: 2 }));
    expect(sink.alerts[0]).toMatchObject({
      event: 'SecretExpiryWarning',
      details: { kind: 'certificate', thresholdDays: 3 },
    });
    expect(sink.alerts[0]!.message).toContain('certificate');
  });

  it('uses the configured thresholds', () => {
    const { clock, sink, monitor } = setup({ SECRET_EXPIRY_WARNING_DAYS: '60' });
    monitor.check(props(clock, { expiresInDays: 10 }));
    expect(sink.alerts.map((alert) => alert.details?.thresholdDays)).toEqual([60]);
  });

  it('says once per process that a federated credential has nothing to expire, and never warns', () => {
    const { clock, sink, monitor } = setup({ CLIENT_CREDENTIAL_KIND: 'federated' });
    expect(monitor.checkFederated().alerts).toEqual(['CredentialNotExpiring']);
    expect(monitor.checkFederated().alerts).toEqual([]);
    monitor.check(props(clock, { kind: 'federated', version: 'federated', expiresInDays: null }));
    expect(sink.alerts).toHaveLength(1);
    expect(sink.alerts[0]).toMatchObject({ event: 'CredentialNotExpiring', severity: 'info' });
  });
});
