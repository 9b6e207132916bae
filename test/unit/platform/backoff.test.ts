import { backoffDelayMs, DEFAULT_BACKOFF_BASE_MS } from '../../../src/platform/backoff';

describe('backoffDelayMs', () => {
  it('doubles with each retry', () => {
    const middle = () => 0.5;
    expect([1, 2, 3, 4].map((retry) => backoffDelayMs(retry, middle))).toEqual([
      DEFAULT_BACKOFF_BASE_MS,
      DEFAULT_BACKOFF_BASE_MS * 2,
      DEFAULT_BACKOFF_BASE_MS * 4,
      DEFAULT_BACKOFF_BASE_MS * 8,
    ]);
  });

  it('jitters between half and one and a half times the base step', () => {
    expect(backoffDelayMs(2, () => 0)).toBe(250);
    expect(backoffDelayMs(2, () => 0.999_999)).toBe(750);
    expect(backoffDelayMs(1, () => 0.25, 100)).toBe(75);
  });

  it('stays within bounds whatever the random source returns', () => {
    expect(backoffDelayMs(1, () => -5)).toBe(125);
    expect(backoffDelayMs(1, () => 7)).toBe(375);
    expect(backoffDelayMs(0, () => 0.5)).toBe(250);
  });
});
