import { Cron } from 'croner';
import type { CapturedFunction } from './functionRegistry';
import { triggerBinding } from './describeFunctions';

/** The `Timer` object a timer function receives, as the Functions host builds it. */
export interface TimerInfo {
  isPastDue: boolean;
  schedule: { adjustForDST: boolean };
  scheduleStatus: { last: string; next: string; lastUpdated: string };
}

export type TimerInvoker = (fn: CapturedFunction, timer: TimerInfo) => Promise<void>;

export interface TimerSchedulerOptions {
  /** Runs the function; the scheduler never overlaps two runs of the same function. */
  invoke: TimerInvoker;
  /** Honour `runOnStartup` (default true). */
  runOnStartup?: boolean;
  /** Now, for the timer object (default Date.now). */
  now?: () => number;
}

export interface RunningTimers {
  /** Next occurrence per function name (undefined when the schedule has none left). */
  next(): Record<string, Date | undefined>;
  stop(): void;
}

/**
 * Runs every timer function on its NCRONTAB schedule — six fields, seconds first, in UTC like the
 * Functions host's default — with croner. A run that is still going when the next occurrence comes
 * makes that occurrence skip (the host holds a singleton lock per timer function too). `runOnStartup`
 * registrations run once right away.
 * @throws Error when a schedule is not a six-field expression (the host refuses those at start).
 */
export function startTimerFunctions(
  functions: readonly CapturedFunction[],
  options: TimerSchedulerOptions,
): RunningTimers {
  const now = options.now ?? Date.now;
  const jobs = new Map<string, Cron>();
  const running = new Set<string>();
  const lastRun = new Map<string, Date>();

  const fire = (fn: CapturedFunction, job: Cron | undefined, scheduledFor: Date | undefined): void => {
    if (running.has(fn.name)) return;
    running.add(fn.name);
    const fired = new Date(now());
    const last = lastRun.get(fn.name) ?? fired;
    const next = job?.nextRun() ?? fired;
    lastRun.set(fn.name, scheduledFor ?? fired);
    const timer: TimerInfo = {
      // Past due when we fire noticeably after the occurrence we were scheduled for.
      isPastDue: scheduledFor !== undefined && fired.getTime() - scheduledFor.getTime() > 1000,
      schedule: { adjustForDST: true },
      scheduleStatus: { last: last.toISOString(), next: next.toISOString(), lastUpdated: fired.toISOString() },
    };
    void options
      .invoke(fn, timer)
      .catch(() => undefined)
      .finally(() => running.delete(fn.name));
  };

  const timerFunctions = functions.filter((fn) => triggerBinding(fn)?.type === 'timerTrigger');
  try {
    for (const fn of timerFunctions) {
      const binding = triggerBinding(fn)!;
      const schedule = String(binding.schedule);
      const job: Cron = new Cron(schedule, { timezone: 'Etc/UTC', mode: '6-part', paused: true }, () => {
        fire(fn, job, job.currentRun() ?? undefined);
      });
      jobs.set(fn.name, job);
    }
  } catch (error) {
    for (const job of jobs.values()) job.stop();
    throw error;
  }
  for (const job of jobs.values()) job.resume();
  if (options.runOnStartup !== false) {
    for (const fn of timerFunctions) {
      if (triggerBinding(fn)?.runOnStartup === true) fire(fn, jobs.get(fn.name), undefined);
    }
  }

  return {
    next() {
      const out: Record<string, Date | undefined> = {};
      for (const [name, job] of jobs) out[name] = job.nextRun() ?? undefined;
      return out;
    },
    stop() {
      for (const job of jobs.values()) job.stop();
      jobs.clear();
    },
  };
}
