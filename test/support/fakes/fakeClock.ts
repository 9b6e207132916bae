/**
 * A clock that moves only when told, with a `sleep` that moves it instead of waiting — pass
 * `clock` and `sleep: clock.sleep` to code that takes both (TokenEngine does).
 */
import type { Clock } from '../../../src/platform/clock';

/** 2026-01-01T12:00:00Z, a fixed start so that logged times are stable. */
export const FAKE_START_MS = Date.UTC(2026, 0, 1, 12, 0, 0);

export class FakeClock implements Clock {
  /** Every `sleep` asked for, in ms, in order. */
  readonly sleeps: number[] = [];

  constructor(private ms = FAKE_START_MS) {}

  now(): number {
    return this.ms;
  }

  advance(ms: number): void {
    this.ms += ms;
  }

  set(ms: number): void {
    this.ms = ms;
  }

  /** Records the wait, moves the clock by `ms` and resolves on the next microtask. Bound, so it can be passed around. */
  readonly sleep = (ms: number): Promise<void> => {
    this.sleeps.push(ms);
    this.ms += ms;
    return Promise.resolve();
  };
}
