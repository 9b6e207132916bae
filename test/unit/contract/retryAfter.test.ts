import {
  boundedRetryAfterSeconds,
  DEFAULT_RETRY_AFTER_SECONDS,
  MAX_RETRY_AFTER_SECONDS,
  parseRetryAfterSeconds,
} from '../../../src/contract/retryAfter';

const NOW = Date.UTC(2026, 10, 28, 9, 0, 0);

describe('parseRetryAfterSeconds', () => {
  it('reads delay-seconds', () => {
    expect(parseRetryAfterSeconds('7', NOW)).toBe(7);
    expect(parseRetryAfterSeconds(' 120 ', NOW)).toBe(120);
  });

  it('reads an HTTP date relative to the injected clock', () => {
    expect(parseRetryAfterSeconds(new Date(NOW + 30_000).toUTCString(), NOW)).toBe(30);
    expect(parseRetryAfterSeconds('Sat, 28 Nov 2026 09:00:42 GMT', NOW)).toBe(42);
  });

  it('uses the default when the header is missing, empty or junk', () => {
    expect(parseRetryAfterSeconds(undefined, NOW)).toBe(DEFAULT_RETRY_AFTER_SECONDS);
    expect(parseRetryAfterSeconds(null, NOW)).toBe(DEFAULT_RETRY_AFTER_SECONDS);
    expect(parseRetryAfterSeconds('', NOW)).toBe(DEFAULT_RETRY_AFTER_SECONDS);
    expect(parseRetryAfterSeconds('soon', NOW)).toBe(DEFAULT_RETRY_AFTER_SECONDS);
    expect(parseRetryAfterSeconds('-5', NOW)).toBe(DEFAULT_RETRY_AFTER_SECONDS);
    expect(parseRetryAfterSeconds('1.5', NOW)).toBe(DEFAULT_RETRY_AFTER_SECONDS);
    expect(parseRetryAfterSeconds(undefined, NOW, { defaultSeconds: 9 })).toBe(9);
  });

  it('caps absurd values', () => {
    expect(parseRetryAfterSeconds('86400', NOW)).toBe(MAX_RETRY_AFTER_SECONDS);
    expect(parseRetryAfterSeconds('99999999999999999999999', NOW)).toBe(MAX_RETRY_AFTER_SECONDS);
    expect(parseRetryAfterSeconds(new Date(NOW + 86_400_000).toUTCString(), NOW)).toBe(MAX_RETRY_AFTER_SECONDS);
    expect(parseRetryAfterSeconds('600', NOW, { maxSeconds: 60 })).toBe(60);
  });

  it('never advises less than one second (0 or a past date)', () => {
    expect(parseRetryAfterSeconds('0', NOW)).toBe(1);
    expect(parseRetryAfterSeconds(new Date(NOW - 60_000).toUTCString(), NOW)).toBe(1);
  });
});

describe('boundedRetryAfterSeconds', () => {
  it.each([
    [undefined, 7],
    [0, 7],
    [-3, 7],
    [Number.NaN, 7],
    [Number.POSITIVE_INFINITY, 7],
    [0.2, 1],
    [12.1, 13],
    [86_400, MAX_RETRY_AFTER_SECONDS],
  ])('%p with fallback 7 → %p', (value, expected) => {
    expect(boundedRetryAfterSeconds(value, 7)).toBe(expected);
  });
});
