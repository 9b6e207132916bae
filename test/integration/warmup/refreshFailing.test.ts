/**
 * a failing warm-up run keeps the cached tokens that are still valid, and
 * `TokenRefreshFailing` is raised once when acquisitions have failed for a whole refresh window.
 */
import { startEmulator, type RunningEmulator } from '../../../dev/emulator';
import { buildWarmupBroker } from '../../support/fakes/warmupStack';
import { useIdentityEnv } from '../../support/identityEnv';

const MINUTE = 60_000;

describe('warm-up run: Entra failing', () => {
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
  afterEach(() => emulator.clearFaults());

  it('keeps serving valid cached tokens, alerts TokenRefreshFailing once per streak after one refresh window', async () => {
    const broker = buildWarmupBroker(emulator);
    await broker.run();
    const [scope] = emulator.scopes;
    const cached = await broker.engine.getToken(scope!);

    emulator.setFault({ target: 'token', mode: 'status', status: 400 });
    broker.clock.advance(40 * MINUTE); // due for refresh, still valid for ~20 minutes
    const failing = await broker.run();
    expect(failing.scopes.map((item) => item.outcome)).toEqual(emulator.scopes.map(() => 'failed'));
    // The failed run did not throw the cached token away.
    await expect(broker.engine.getToken(scope!)).resolves.toMatchObject({
      accessToken: cached.accessToken,
      cacheHit: true,
    });
    expect(broker.ofEvent('TokenRefreshFailing')).toEqual([]);

    broker.clock.advance(5 * MINUTE); // one warm-up interval of the default schedule
    const alerted = await broker.run();
    broker.clock.advance(5 * MINUTE);
    await broker.run();
    expect(alerted.alerts.filter((event) => event === 'TokenRefreshFailing')).toHaveLength(emulator.scopes.length);
    const alerts = broker.ofEvent('TokenRefreshFailing');
    expect(alerts.map((alert) => alert.details?.scope).sort()).toEqual([...emulator.scopes].sort());
    expect(alerts[0]).toMatchObject({
      severity: 'error',
      details: expect.objectContaining({ refreshWindowSeconds: 300 }),
    });

    // Recovery ends the streak; a new streak alerts again.
    emulator.clearFaults();
    broker.clock.advance(MINUTE);
    const recovered = await broker.run();
    expect(recovered.scopes.map((item) => item.outcome)).not.toContain('failed');
    emulator.setFault({ target: 'token', mode: 'status', status: 400 });
    broker.clock.advance(40 * MINUTE);
    await broker.run();
    broker.clock.advance(5 * MINUTE);
    await broker.run();
    expect(broker.ofEvent('TokenRefreshFailing')).toHaveLength(2 * emulator.scopes.length);
  });
});
