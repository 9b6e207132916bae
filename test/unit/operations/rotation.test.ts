import { BrokerError } from '../../../src/contract/errors';
import { silentLogger } from '../../support/silentLogger';
import { createCredentialRotator } from '../../../src/operations/rotation';
import {
  FakeCredentialSource,
  FakeWarmupEngine,
  ManualClock,
  rejected,
  SCOPE_A,
  warmupConfig,
} from '../../support/fakes/warmupFakes';
import { RecordingAlerts } from '../../support/fakes/recordingAlerts';

async function setup(options: { transientFailuresBeforeAlert?: number } = {}) {
  const clock = new ManualClock();
  const source = new FakeCredentialSource(clock);
  const engine = new FakeWarmupEngine(clock, source);
  const sink = new RecordingAlerts();
  source.addVersion();
  await source.current();
  const rotator = createCredentialRotator({
    config: warmupConfig(),
    engine,
    credentialSource: source,
    alerts: sink,
    logger: silentLogger,
    ...options,
  });
  return { clock, source, engine, sink, rotator };
}

describe('createCredentialRotator', () => {
  it('does nothing while the latest version is the one in use (no value read)', async () => {
    const { source, engine, sink, rotator } = await setup();
    const reads = source.valueReads;
    expect((await rotator.rotateIfNewer(await source.latestProperties())).outcome).toBe('none');
    expect(source.valueReads).toBe(reads);
    expect(engine.tried).toEqual([]);
    expect(sink.alerts).toEqual([]);
  });

  it('tries a newer enabled version on the default scope first, then promotes it and raises CredentialRotated', async () => {
    const { source, engine, sink, rotator } = await setup();
    const v2 = source.addVersion({ expiresInDays: 180 });
    const result = await rotator.rotateIfNewer(await source.latestProperties());
    expect(result).toMatchObject({ outcome: 'rotated', candidateVersion: v2, previousVersion: 'v1' });
    expect(engine.tried).toEqual([{ version: v2, scope: SCOPE_A }]);
    expect(source.promoted).toEqual([v2]);
    expect(source.peek()?.properties.version).toBe(v2);
    expect(sink.alerts).toEqual([
      expect.objectContaining({
        event: 'CredentialRotated',
        severity: 'info',
        version: v2,
        details: { previousVersion: 'v1', kind: 'secret' },
      }),
    ]);
  });

  it('keeps the old version when Entra refuses the new one, and alerts once per candidate version', async () => {
    const { source, engine, sink, rotator } = await setup();
    const v2 = source.addVersion();
    engine.refuse.set(v2, rejected(v2));
    for (let run = 0; run < 3; run += 1) {
      const result = await rotator.rotateIfNewer(await source.latestProperties());
      expect(result.outcome).toBe('failed');
    }
    expect(source.promoted).toEqual([]);
    expect(source.peek()?.properties.version).toBe('v1');
    expect(engine.tried).toHaveLength(3); // tried again on every run: it may be fixed on the app registration
    expect(sink.alerts).toEqual([
      expect.objectContaining({
        event: 'CredentialRotationFailed',
        severity: 'error',
        version: v2,
        details: { code: 'entra_credential_rejected', inUseVersion: 'v1', aadsts: 7000215 },
      }),
    ]);

    // A further bad version is a new candidate: alerted once more.
    const v3 = source.addVersion();
    engine.refuse.set(v3, rejected(v3));
    await rotator.rotateIfNewer(await source.latestProperties());
    expect(sink.ofEvent('CredentialRotationFailed').map((alert) => alert.version)).toEqual([v2, v3]);
  });

  it('switches once a refused candidate starts working (fixed on the app registration)', async () => {
    const { source, engine, sink, rotator } = await setup();
    const v2 = source.addVersion();
    engine.refuse.set(v2, rejected(v2));
    await rotator.rotateIfNewer(await source.latestProperties());
    engine.refuse.delete(v2);
    expect((await rotator.rotateIfNewer(await source.latestProperties())).outcome).toBe('rotated');
    expect(sink.events()).toEqual(['CredentialRotationFailed', 'CredentialRotated']);
  });

  it('keeps the old version when the new value cannot be read from Key Vault', async () => {
    const { source, engine, sink, rotator } = await setup();
    source.addVersion();
    source.failLoadWith = new BrokerError('keyvault_forbidden', 'Key Vault refused.', { upstreamStatus: 403 });
    expect((await rotator.rotateIfNewer(await source.latestProperties())).outcome).toBe('failed');
    expect(engine.tried).toEqual([]);
    expect(source.peek()?.properties.version).toBe('v1');
    expect(sink.ofEvent('CredentialRotationFailed')[0]?.details).toMatchObject({ code: 'keyvault_forbidden' });
  });

  it('does not alert on a passing Entra outage until it has failed that many runs in a row', async () => {
    const { source, engine, sink, rotator } = await setup({ transientFailuresBeforeAlert: 3 });
    const v2 = source.addVersion();
    engine.refuse.set(v2, new BrokerError('entra_transient', 'Entra answered 503.', { upstreamStatus: 503 }));
    await rotator.rotateIfNewer(await source.latestProperties());
    await rotator.rotateIfNewer(await source.latestProperties());
    expect(sink.alerts).toEqual([]);
    await rotator.rotateIfNewer(await source.latestProperties());
    await rotator.rotateIfNewer(await source.latestProperties());
    expect(sink.events()).toEqual(['CredentialRotationFailed']);
  });

  it('rotates to the version the source calls latest even when both were created in the same second', async () => {
    // Regression: a rotation right after a deployment (same `created` second) was skipped, so its
    // expiry was never checked. The source asks Key Vault which version is current in that case.
    const { source, engine, rotator } = await setup();
    source.addVersion({ createdOnMs: source.versions[0]!.properties.createdOnMs });
    const latest = await source.latestProperties();
    expect((await rotator.rotateIfNewer(latest)).outcome).toBe('rotated');
    expect(engine.tried.map((attempt) => attempt.version)).toEqual([latest.version]);
  });

  it('does not rotate to a newer version that is disabled', async () => {
    const { source, engine, rotator } = await setup();
    source.addVersion({ enabled: false });
    expect((await rotator.rotateIfNewer(source.versions[1]!.properties)).outcome).toBe('none');
    expect(engine.tried).toEqual([]);
  });

  it('does nothing before any credential is loaded (the first load takes the latest anyway)', async () => {
    const clock = new ManualClock();
    const source = new FakeCredentialSource(clock);
    source.addVersion();
    const engine = new FakeWarmupEngine(clock);
    const rotator = createCredentialRotator({
      config: warmupConfig(),
      engine,
      credentialSource: source,
      alerts: new RecordingAlerts(),
      logger: silentLogger,
    });
    expect((await rotator.rotateIfNewer(await source.latestProperties())).outcome).toBe('none');
    expect(engine.tried).toEqual([]);
  });

  it('rethrows a non-BrokerError (a bug) after keeping the old credential and alerting', async () => {
    const { source, engine, sink, rotator } = await setup();
    source.addVersion();
    engine.tryCredential = () => Promise.reject(new TypeError('boom'));
    await expect(rotator.rotateIfNewer(await source.latestProperties())).rejects.toThrow(TypeError);
    expect(source.peek()?.properties.version).toBe('v1');
    expect(sink.ofEvent('CredentialRotationFailed')[0]?.details).toMatchObject({ code: 'internal' });
  });
});
