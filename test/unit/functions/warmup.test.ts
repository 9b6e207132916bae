import { InvocationContext, type Timer } from '@azure/functions';
import { BrokerError } from '../../../src/contract/errors';
import { createLogger, type LogLevel } from '../../../src/platform/logger';
import type { WarmupReport } from '../../../src/operations/warmup';
import { createWarmupFunction } from '../../../src/functions/warmup';
import { SCOPE_A, SCOPE_B } from '../../support/fakes/warmupFakes';

const timer: Timer = {
  isPastDue: false,
  schedule: { adjustForDST: false },
  scheduleStatus: { last: '', next: '', lastUpdated: '' },
};

function capture(): {
  lines: Array<{ level: LogLevel; record: Record<string, unknown> }>;
  logger: ReturnType<typeof createLogger>;
} {
  const lines: Array<{ level: LogLevel; record: Record<string, unknown> }> = [];
  return { lines, logger: createLogger({ sink: (line, level) => lines.push({ level, record: JSON.parse(line) }) }) };
}

const healthy: WarmupReport = {
  scopes: [
    { scope: SCOPE_A, outcome: 'fresh' },
    { scope: SCOPE_B, outcome: 'refreshed' },
  ],
  credential: { kind: 'secret', version: 'v1', expiresOn: '2026-03-01T00:00:00.000Z', daysLeft: 59, alerts: [] },
  rotation: 'none',
  alerts: [],
};

describe('createWarmupFunction', () => {
  it('runs the warm-up once per invocation and logs a WarmupCompleted summary', async () => {
    const { lines, logger } = capture();
    const run = jest.fn(async () => healthy);
    const handler = createWarmupFunction(run, logger);
    await handler(timer, new InvocationContext({ invocationId: 'inv-1' }));
    expect(run).toHaveBeenCalledTimes(1);
    expect(lines).toHaveLength(1);
    expect(lines[0]!.level).toBe('info');
    expect(lines[0]!.record).toMatchObject({
      event: 'WarmupCompleted',
      invocationId: 'inv-1',
      isPastDue: false,
      scopes: 2,
      fresh: 1,
      refreshed: 1,
      failed: 0,
      credentialVersion: 'v1',
      daysLeft: 59,
      rotation: 'none',
    });
  });

  it('an expected failure (a scope could not be refreshed) completes the invocation with a warning', async () => {
    const { lines, logger } = capture();
    const report: WarmupReport = {
      ...healthy,
      scopes: [{ scope: SCOPE_A, outcome: 'failed', error: new BrokerError('entra_timeout', 'Entra did not answer.') }],
      alerts: ['TokenRefreshFailing'],
    };
    const handler = createWarmupFunction(async () => report, logger);
    await expect(handler({ ...timer, isPastDue: true }, new InvocationContext())).resolves.toBeUndefined();
    expect(lines[0]!.level).toBe('warn');
    expect(lines[0]!.record).toMatchObject({
      event: 'WarmupCompleted',
      isPastDue: true,
      failed: 1,
      failedScopes: [{ scope: SCOPE_A, code: 'entra_timeout' }],
      alerts: ['TokenRefreshFailing'],
    });
  });

  it('an unexpected error (a bug) is logged as WarmupFailed and rethrown so the host records a failed run', async () => {
    const { lines, logger } = capture();
    const handler = createWarmupFunction(() => Promise.reject(new TypeError('bug')), logger);
    await expect(handler(timer, new InvocationContext({ invocationId: 'inv-2' }))).rejects.toThrow(TypeError);
    expect(lines).toHaveLength(1);
    expect(lines[0]!.level).toBe('error');
    expect(lines[0]!.record).toMatchObject({
      event: 'WarmupFailed',
      invocationId: 'inv-2',
      error: { name: 'TypeError' },
    });
  });
});

describe('warmup timer registration (src/app.ts)', () => {
  it('registers "warmup" as a timer on WARMUP_SCHEDULE, not run on startup, with the schedule monitor on', async () => {
    // Loaded here so that the other tests do not depend on the app module.
    const { app } = await import('@azure/functions');
    const { registerFunctions } = await import('../../../src/app');
    const { capturedFunctions } = await import('../../../dev/host/functionRegistry');
    const { logger } = capture();
    const run = jest.fn(async () => healthy);
    // Only what registerFunctions touches; `Object.create` keeps the stub untyped (a partial Broker).
    const broker = Object.assign(Object.create(null), {
      config: { warmupSchedule: '*/10 * * * * *' },
      logger,
      runWarmup: run,
      handleTokenRequest: jest.fn(),
      handleHealth: jest.fn(),
    });
    registerFunctions(app, broker);

    const warmup = capturedFunctions.filter((fn) => fn.name === 'warmup');
    expect(warmup).toHaveLength(1);
    const triggers = Object.values(warmup[0]!.bindings).filter((binding) => binding.type === 'timerTrigger');
    expect(triggers).toEqual([
      expect.objectContaining({ direction: 'in', schedule: '*/10 * * * * *', runOnStartup: false, useMonitor: true }),
    ]);
  });
});
