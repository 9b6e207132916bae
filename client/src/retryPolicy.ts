/**
 * When to try the broker again. Only answers that say "later" are retried — 429 and 503 (and a
 * gateway's 502/504) and no answer at all — never 400/401/403, which the same request would get
 * again. A `Retry-After` is honoured and only ever lengthened by the jitter (up to +20 %), so a
 * fleet told "30 s" does not return in the same millisecond; without one, exponential backoff with
 * jitter. A wait longer than `maxRetryDelayMs` is not waited: the error goes to the caller with its
 * `retryAfterSeconds`.
 */
import { abortError, type BrokerRequestError } from './errors';

export interface RetryOptions {
  /** Retries after the first attempt (default 3). */
  maxRetries: number;
  /** The longest single wait (default 30 000 ms). */
  maxRetryDelayMs: number;
  /** Backoff before the first retry when the broker names no delay (default 500 ms, doubled each time). */
  initialRetryDelayMs: number;
}

export const DEFAULT_RETRY_OPTIONS: Readonly<RetryOptions> = Object.freeze({
  maxRetries: 3,
  maxRetryDelayMs: 30_000,
  initialRetryDelayMs: 500,
});

const RETRIED = new Set(['throttled', 'unavailable', 'network_error']);
const RETRY_AFTER_JITTER = 0.2;

/**
 * How long to wait before retry number `retry` (1-based) after `error`, or undefined when it is not
 * to be retried.
 * @param random uniform in [0, 1)
 */
export function retryDelayMs(
  error: BrokerRequestError,
  retry: number,
  options: RetryOptions,
  random: () => number,
): number | undefined {
  if (!RETRIED.has(error.code) || retry > options.maxRetries) return undefined;
  let delayMs: number;
  if (error.retryAfterSeconds !== undefined) {
    const namedMs = error.retryAfterSeconds * 1000;
    delayMs = namedMs + namedMs * RETRY_AFTER_JITTER * random();
  } else {
    const backoffMs = options.initialRetryDelayMs * 2 ** (retry - 1);
    delayMs = backoffMs / 2 + (backoffMs / 2) * random();
  }
  return delayMs > options.maxRetryDelayMs ? undefined : Math.round(delayMs);
}

/** Waits `ms`, or rejects with the abort error as soon as `signal` fires. */
export function sleep(ms: number, signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.reject(abortError(signal));
  return new Promise((resolve, reject) => {
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(abortError(signal));
    };
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}
