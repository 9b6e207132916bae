/**
 * Lets one operation per key run at a time: callers that arrive while it runs get the same promise.
 * The slot is cleared when the operation settles, so a failure is never cached: the next call
 * starts a new attempt. The shared promise always has a rejection handler attached, so a promise
 * that nobody awaits (a background refresh) cannot cause an `unhandledRejection`.
 */
export class SingleFlight<K, V> {
  private readonly running = new Map<K, Promise<V>>();

  /** The operation running for `key`, if any. */
  get(key: K): Promise<V> | undefined {
    return this.running.get(key);
  }

  /** Joins the operation running for `key`, or starts `start()` as the one for `key`. */
  run(key: K, start: () => Promise<V>): Promise<V> {
    const existing = this.running.get(key);
    if (existing) return existing;
    let shared: Promise<V>;
    try {
      shared = start();
    } catch (error) {
      shared = Promise.reject(error instanceof Error ? error : new Error(String(error)));
    }
    const tracked = shared.finally(() => {
      if (this.running.get(key) === tracked) this.running.delete(key);
    });
    tracked.catch(() => undefined);
    this.running.set(key, tracked);
    return tracked;
  }

  /** Number of operations running (for tests and diagnostics). */
  get size(): number {
    return this.running.size;
  }
}
