/**
 * Safe rotation: a new version in Key Vault is tried before it is used, while callers keep
 * asking for tokens; a bad new version never replaces the good one.
 */
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import { startEmulator, type RunningEmulator } from '../../../dev/emulator';
import { buildWarmupBroker, nextSecond, type WarmupBroker } from '../../support/fakes/warmupStack';
import { useIdentityEnv } from '../../support/identityEnv';

const FORTY_MINUTES = 40 * 60_000;

/** Callers hammering the engine for every scope until stopped; counts what they got. */
function startLoad(broker: WarmupBroker, scopes: readonly string[], workers = 16) {
  let stopped = false;
  const counts = { ok: 0, failed: 0, codes: new Set<string>() };
  const loops = Array.from({ length: workers }, async (_unused, index) => {
    let i = index;
    while (!stopped) {
      const scope = scopes[i % scopes.length]!;
      i += 1;
      try {
        await broker.engine.getToken(scope);
        counts.ok += 1;
      } catch (error) {
        counts.failed += 1;
        counts.codes.add((error as { code?: string }).code ?? String(error));
      }
      // Cache hits resolve at once; give the event loop (and the emulator's sockets) a turn.
      await yieldToEventLoop();
    }
  });
  return {
    counts,
    async stop() {
      stopped = true;
      await Promise.all(loops);
      return counts;
    },
  };
}

describe('warm-up run: safe rotation under load', () => {
  let emulator: RunningEmulator;
  let restoreIdentity: () => void;

  beforeAll(async () => {
    emulator = await startEmulator();
    restoreIdentity = useIdentityEnv(emulator);
  });
  afterAll(async () => {
    restoreIdentity();
    await emulator.close();
  });

  it('a good new version is tried, then used: zero failed calls, and the old one can be revoked', async () => {
    const broker = buildWarmupBroker(emulator);
    await broker.run();
    const oldVersion = broker.source.peek()!.properties.version;
    const load = startLoad(broker, emulator.scopes);

    await nextSecond();
    const { version: newVersion } = await emulator.rotate({ expiresInDays: 180 });
    broker.clock.advance(FORTY_MINUTES); // every token is due: live requests refresh in the background
    const report = await broker.run();
    expect(report.rotation).toBe('rotated');
    expect(report.credential).toMatchObject({ version: newVersion, daysLeft: 179, alerts: ['CredentialRotated'] });
    expect(broker.source.peek()?.properties.version).toBe(newVersion);

    // From now on only the new version works; the next refreshes must use it.
    emulator.revokeCredential(oldVersion);
    const before = emulator.stats().tokenRequests[broker.config.clientId] ?? {};
    broker.clock.advance(FORTY_MINUTES);
    const after = await broker.run();
    for (let i = 0; i < 20; i += 1) await yieldToEventLoop();
    const counts = await load.stop();

    expect(after.scopes.map((item) => item.outcome)).not.toContain('failed');
    expect(after.rotation).toBe('none');
    expect({ failed: counts.failed, codes: [...counts.codes] }).toEqual({ failed: 0, codes: [] });
    expect(counts.ok).toBeGreaterThan(0);
    const requestsAfter = emulator.stats().tokenRequests[broker.config.clientId] ?? {};
    for (const scope of emulator.scopes) expect(requestsAfter[scope]).toBeGreaterThan(before[scope] ?? 0);
    expect(broker.events()).toEqual(['CredentialRotated']);
    expect(broker.ofEvent('CredentialRotated')[0]).toMatchObject({
      severity: 'info',
      version: newVersion,
      details: expect.objectContaining({ previousVersion: oldVersion }),
    });
    // The engine never had to fall back on a refused credential: the timer switched first.
    expect(broker.logs.filter((line) => line.record.event === 'TokenAcquisitionFailed')).toEqual([]);
  });

  it('a bad new version (Entra refuses it) is not used: old one kept, one CredentialRotationFailed, zero failed calls', async () => {
    const broker = buildWarmupBroker(emulator);
    await broker.run();
    const goodVersion = broker.source.peek()!.properties.version;
    const load = startLoad(broker, emulator.scopes);

    await nextSecond();
    const { version: badVersion } = await emulator.rotate({ expiresInDays: 180 });
    emulator.revokeCredential(badVersion);
    broker.clock.advance(FORTY_MINUTES);
    const first = await broker.run();
    broker.clock.advance(FORTY_MINUTES);
    const second = await broker.run();
    const counts = await load.stop();

    expect([first.rotation, second.rotation]).toEqual(['failed', 'failed']);
    expect(first.credential).toMatchObject({ version: goodVersion, alerts: ['CredentialRotationFailed'] });
    expect(second.credential.alerts).toEqual([]);
    expect(broker.source.peek()?.properties.version).toBe(goodVersion);
    expect(broker.events()).toEqual(['CredentialRotationFailed']);
    expect(broker.ofEvent('CredentialRotationFailed')[0]).toMatchObject({
      severity: 'error',
      version: badVersion,
      details: expect.objectContaining({ code: 'entra_credential_rejected', inUseVersion: goodVersion }),
    });
    expect(second.scopes.map((item) => item.outcome)).not.toContain('failed');
    expect({ failed: counts.failed, codes: [...counts.codes] }).toEqual({ failed: 0, codes: [] });
    expect(counts.ok).toBeGreaterThan(0);
  });
});
