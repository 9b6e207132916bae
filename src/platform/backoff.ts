/** Base delay of the first retry; doubled for each further one. */
export const DEFAULT_BACKOFF_BASE_MS = 250;

/**
 * Delay before retry number `retry` (1 = the first retry): `baseMs × 2^(retry−1)` scaled by a random
 * factor from 0.5 to 1.5, so that many broker instances failing at once do not retry in lockstep
 * ("full jitter" would allow zero delays; a floor of half keeps a minimum pause).
 *
 * @param random returns a number in [0, 1), like Math.random (injected so tests are deterministic).
 */
export function backoffDelayMs(retry: number, random: () => number, baseMs = DEFAULT_BACKOFF_BASE_MS): number {
  const exponent = Math.max(0, Math.floor(retry) - 1);
  const factor = 0.5 + Math.min(Math.max(random(), 0), 1);
  return Math.round(baseMs * 2 ** exponent * factor);
}

/** Resolves after `ms` with a real timer; the timer does not keep the process alive on its own. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, Math.max(0, ms));
    timer.unref?.();
  });
}
