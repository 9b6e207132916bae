/** Used when a 503 (or Key Vault's 429) carries no usable `Retry-After`. */
export const DEFAULT_RETRY_AFTER_SECONDS = 5;
/**
 * Used when Entra throttles (429, or MSAL refusing locally, which hides the header) without a
 * usable `Retry-After`: the pause covers every scope, so it errs on the long side.
 */
export const DEFAULT_THROTTLE_SECONDS = 30;
/** An upstream asking for more than this is capped: callers must not be told to go away for hours. */
export const MAX_RETRY_AFTER_SECONDS = 300;

/**
 * Parses an HTTP `Retry-After` value: delay-seconds or an HTTP date (RFC 9110 §10.2.3).
 * Missing or unparseable → `defaultSeconds`. The result is at least 1 (a throttling server saying
 * "now" or a date in the past still gets a pause) and at most `maxSeconds` (absurd values capped).
 *
 * @param value the header value, if any
 * @param nowMs current time (injected clock) to turn a date into seconds
 * @returns whole seconds in [1, maxSeconds]
 */
export function parseRetryAfterSeconds(
  value: string | null | undefined,
  nowMs: number,
  options: { defaultSeconds?: number; maxSeconds?: number } = {},
): number {
  const maxSeconds = options.maxSeconds ?? MAX_RETRY_AFTER_SECONDS;
  const fallback = clamp(options.defaultSeconds ?? DEFAULT_RETRY_AFTER_SECONDS, maxSeconds);
  if (value === null || value === undefined) return fallback;
  const text = value.trim();
  if (text === '') return fallback;
  if (/^\d+$/.test(text)) return clamp(Number(text), maxSeconds);
  // Only accept something that looks like an HTTP date; Date.parse is lenient with junk.
  if (!/^[A-Za-z]{3},? /.test(text) && !/GMT$/.test(text)) return fallback;
  const dateMs = Date.parse(text);
  if (!Number.isFinite(dateMs)) return fallback;
  return clamp(Math.ceil((dateMs - nowMs) / 1000), maxSeconds);
}

/**
 * A `retryAfterSeconds` we hold (from an error) as whole seconds in [1, MAX_RETRY_AFTER_SECONDS];
 * missing, non-finite or non-positive → `fallbackSeconds`. The one rule for what callers are told.
 */
export function boundedRetryAfterSeconds(value: number | undefined, fallbackSeconds: number): number {
  if (value === undefined || !Number.isFinite(value) || value <= 0) return fallbackSeconds;
  return clamp(value, MAX_RETRY_AFTER_SECONDS);
}

function clamp(seconds: number, maxSeconds: number): number {
  if (!Number.isFinite(seconds)) return maxSeconds;
  return Math.min(Math.max(Math.ceil(seconds), 1), maxSeconds);
}
