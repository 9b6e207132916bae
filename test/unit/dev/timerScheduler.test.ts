import type { CapturedFunction } from '../../../dev/host/functionRegistry';
import { startTimerFunctions, type TimerInfo } from '../../../dev/host/timerScheduler';

function timer(name: string, schedule: string, runOnStartup = false): CapturedFunction {
  return {
    name,
    bindings: { timerTrigger: { type: 'timerTrigger', direction: 'in', name: 'timerTrigger', schedule, runOnStartup } },
    handler: () => undefined,
  };
}

describe('local host timer scheduler', () => {
  beforeEach(() => {
    jest.useFakeTimers({ now: new Date('2026-01-01T00:00:00.500Z') });
  });
  afterEach(() => {
    jest.useRealTimers();
  });

  it('runs a timer on its six-field NCRONTAB schedule (seconds first, UTC)', async () => {
    const runs: { name: string; at: number; timer: TimerInfo }[] = [];
    const timers = startTimerFunctions([timer('warmup', '*/10 * * * * *')], {
      invoke: async (fn, info) => {
        runs.push({ name: fn.name, at: Date.now(), timer: info });
      },
    });
    try {
      expect(timers.next().warmup?.toISOString()).toBe('2026-01-01T00:00:10.000Z');
      await jest.advanceTimersByTimeAsync(25_000);
      expect(runs.map((r) => new Date(r.at).toISOString().slice(11, 19))).toEqual(['00:00:10', '00:00:20']);
      expect(runs[0]!.timer).toEqual({
        isPastDue: false,
        schedule: { adjustForDST: true },
        scheduleStatus: expect.objectContaining({ next: '2026-01-01T00:00:20.000Z' }) as unknown,
      });
    } finally {
      timers.stop();
    }
  });

  it('honours runOnStartup, and can be told not to', async () => {
    const ran: string[] = [];
    const invoke = async (fn: CapturedFunction): Promise<void> => {
      ran.push(fn.name);
    };
    const fns = [timer('startup', '0 0 0 1 1 *', true), timer('quiet', '0 0 0 1 1 *', false)];
    const first = startTimerFunctions(fns, { invoke });
    first.stop();
    expect(ran).toEqual(['startup']);
    const second = startTimerFunctions(fns, { invoke, runOnStartup: false });
    second.stop();
    expect(ran).toEqual(['startup']);
  });

  it('never overlaps two runs of one timer function', async () => {
    let running = 0;
    let maxRunning = 0;
    let calls = 0;
    const timers = startTimerFunctions([timer('slow', '* * * * * *')], {
      invoke: async () => {
        calls += 1;
        running += 1;
        maxRunning = Math.max(maxRunning, running);
        await new Promise((resolve) => setTimeout(resolve, 3500));
        running -= 1;
      },
    });
    try {
      await jest.advanceTimersByTimeAsync(10_000);
      expect(maxRunning).toBe(1);
      expect(calls).toBeGreaterThanOrEqual(2);
      expect(calls).toBeLessThan(10);
    } finally {
      timers.stop();
    }
  });

  it('refuses a five-field (minute-first) schedule, as the Functions host does', () => {
    expect(() => startTimerFunctions([timer('bad', '*/5 * * * *')], { invoke: async () => undefined })).toThrow();
  });
});
