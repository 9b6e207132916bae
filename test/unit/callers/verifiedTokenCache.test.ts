import { VerifiedTokenCache } from '../../../src/callers/verifiedTokenCache';
import { FakeClock } from '../../support/frontDoorFixture';

describe('VerifiedTokenCache', () => {
  it('keeps an entry until its own expiry when that comes first', () => {
    const clock = new FakeClock(0);
    const cache = new VerifiedTokenCache<string>({ clock, maxAgeMs: 300_000 });
    cache.set('k', 'v', 60_000);
    clock.advance(59_999);
    expect(cache.get('k')).toBe('v');
    clock.advance(1);
    expect(cache.get('k')).toBeUndefined();
    expect(cache.size).toBe(0);
  });

  it('keeps an entry at most maxAgeMs', () => {
    const clock = new FakeClock(0);
    const cache = new VerifiedTokenCache<string>({ clock, maxAgeMs: 300_000 });
    cache.set('k', 'v', 3600_000);
    clock.advance(299_999);
    expect(cache.get('k')).toBe('v');
    clock.advance(1);
    expect(cache.get('k')).toBeUndefined();
  });

  it('does not store what has already expired', () => {
    const clock = new FakeClock(1000);
    const cache = new VerifiedTokenCache<string>({ clock });
    cache.set('k', 'v', 1000);
    expect(cache.size).toBe(0);
  });

  it('evicts the least recently used entry beyond maxEntries', () => {
    const cache = new VerifiedTokenCache<string>({ clock: new FakeClock(0), maxEntries: 2 });
    cache.set('a', 'A', 1e12);
    cache.set('b', 'B', 1e12);
    expect(cache.get('a')).toBe('A'); // a is now the most recent
    cache.set('c', 'C', 1e12);
    expect(cache.get('b')).toBeUndefined();
    expect(cache.get('a')).toBe('A');
    expect(cache.get('c')).toBe('C');
    expect(cache.size).toBe(2);
  });

  it('stays bounded under a flood of distinct keys', () => {
    const cache = new VerifiedTokenCache<number>({ clock: new FakeClock(0), maxEntries: 100 });
    for (let i = 0; i < 10_000; i++) cache.set(`k${i}`, i, 1e12);
    expect(cache.size).toBe(100);
  });
});
