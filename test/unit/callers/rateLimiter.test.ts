import { burstForLimit, RateLimiter } from '../../../src/callers/rateLimiter';
import { FakeClock, makeConfig } from '../../support/frontDoorFixture';

describe('RateLimiter', () => {
  it('lets a whole minute of the limit through at once, then refills at limit per minute', () => {
    const clock = new FakeClock();
    const limiter = new RateLimiter({ limitPerMinute: 60, clock }); // burst 60, then one per second
    for (let i = 0; i < 60; i++) expect(limiter.take('a')).toEqual({ allowed: true });
    expect(limiter.take('a')).toEqual({ allowed: false, retryAfterSeconds: 1 });
    clock.advance(1000);
    expect(limiter.take('a')).toEqual({ allowed: true });
    expect(limiter.take('a').allowed).toBe(false);
  });

  it('sustains the configured rate over a minute', () => {
    const clock = new FakeClock();
    const limiter = new RateLimiter({ limitPerMinute: 600, clock });
    let allowed = 0;
    for (let ms = 0; ms < 60_000; ms += 10) {
      if (limiter.take('a').allowed) allowed++;
      clock.advance(10);
    }
    expect(allowed).toBeGreaterThanOrEqual(600);
    expect(allowed).toBeLessThanOrEqual(600 + burstForLimit(600));
  });

  it('keeps one bucket per caller', () => {
    const limiter = new RateLimiter({ limitPerMinute: 1, clock: new FakeClock() });
    expect(limiter.take('a').allowed).toBe(true);
    expect(limiter.take('a')).toEqual({ allowed: false, retryAfterSeconds: 60 });
    expect(limiter.take('b').allowed).toBe(true);
  });

  it('neither mints tokens nor locks out when the clock steps back', () => {
    const clock = new FakeClock();
    const limiter = new RateLimiter({ limitPerMinute: 6, burst: 1, clock });
    expect(limiter.take('a').allowed).toBe(true);
    clock.advance(-3600_000);
    expect(limiter.take('a').allowed).toBe(false);
    clock.advance(10_000);
    expect(limiter.take('a').allowed).toBe(true);
  });

  it('forgets the idlest callers beyond maxTrackedCallers (bounded memory)', () => {
    const limiter = new RateLimiter({ limitPerMinute: 1, clock: new FakeClock(), maxTrackedCallers: 2 });
    limiter.take('a');
    limiter.take('b');
    limiter.take('c'); // evicts a
    expect(limiter.take('a').allowed).toBe(true);
    expect(limiter.take('c').allowed).toBe(false);
  });

  it('is built from CALLER_RATE_LIMIT_PER_MINUTE', () => {
    const clock = new FakeClock();
    const limiter = RateLimiter.fromConfig(makeConfig({ CALLER_RATE_LIMIT_PER_MINUTE: '12' }), clock);
    for (let i = 0; i < 12; i++) expect(limiter.take('a').allowed).toBe(true);
    expect(limiter.take('a')).toEqual({ allowed: false, retryAfterSeconds: 5 });
  });

  it('validates its options', () => {
    expect(() => new RateLimiter({ limitPerMinute: 0 })).toThrow(TypeError);
    expect(() => new RateLimiter({ limitPerMinute: 10, burst: 0 })).toThrow(TypeError);
  });
});
