/**
 * One operation at a time, shared by everyone who asks while it runs. Each waiter brings its own
 * abort signal: when it fires, that waiter stops waiting at once, and the shared operation is
 * aborted only when no one is left waiting for it — one impatient caller never fails the others.
 */
import { abortError, type AbortSignalLike } from './errors';

interface Flight<T> {
  promise: Promise<T>;
  controller: AbortController;
  waiters: number;
}

export class SharedFlight<T> {
  private flight: Flight<T> | undefined;

  /** True while an operation runs. */
  get running(): boolean {
    return this.flight !== undefined;
  }

  /**
   * Joins the running operation, or starts `operation` with a signal of its own.
   * @param signal this waiter's signal; without one the waiter stays until the end
   */
  run(operation: (signal: AbortSignal) => Promise<T>, signal?: AbortSignalLike): Promise<T> {
    if (signal?.aborted) return Promise.reject(abortError(signal));
    let flight = this.flight;
    if (!flight) {
      const controller = new AbortController();
      const started: Flight<T> = { promise: Promise.resolve() as Promise<never>, controller, waiters: 0 };
      started.promise = operation(controller.signal).finally(() => {
        if (this.flight === started) this.flight = undefined;
      });
      this.flight = flight = started;
    }
    const joined = flight;
    joined.waiters += 1;
    if (!signal) return joined.promise;
    return new Promise<T>((resolve, reject) => {
      const onAbort = (): void => {
        joined.waiters -= 1;
        if (joined.waiters === 0) {
          // Nobody wants it any more: the next caller starts afresh instead of joining a dying flight.
          if (this.flight === joined) this.flight = undefined;
          joined.controller.abort(abortError(signal));
        }
        reject(abortError(signal));
      };
      signal.addEventListener('abort', onAbort, { once: true });
      joined.promise.then(
        (value) => {
          signal.removeEventListener('abort', onAbort);
          resolve(value);
        },
        (error: unknown) => {
          signal.removeEventListener('abort', onAbort);
          reject(error instanceof Error ? error : new Error(String(error)));
        },
      );
    });
  }
}
