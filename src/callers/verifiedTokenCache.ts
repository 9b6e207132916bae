import { type Clock, systemClock } from '../platform/clock';

export interface VerifiedTokenCacheOptions {
  /** Most entries kept; the least recently used goes first. Default 10 000. */
  readonly maxEntries?: number;
  /** Longest an entry is kept, whatever its own expiry. Default 5 minutes. */
  readonly maxAgeMs?: number;
  readonly clock?: Clock;
}

interface Entry<T> {
  readonly value: T;
  readonly expiresAtMs: number;
}

export const DEFAULT_VERIFIED_TOKEN_CACHE_ENTRIES = 10_000;
export const DEFAULT_VERIFIED_TOKEN_MAX_AGE_MS = 5 * 60_000;

/**
 * Remembers caller tokens whose signature and claims were verified, keyed by a hash of the token
 * (never the token itself), so that a busy caller is not RSA-verified on every request. Bounded in
 * size (LRU via Map insertion order) and in age: an entry lives at most `maxAgeMs` and never past
 * the expiry it was stored with (the token's `exp`).
 */
export class VerifiedTokenCache<T> {
  private readonly entries = new Map<string, Entry<T>>();
  private readonly maxEntries: number;
  private readonly maxAgeMs: number;
  private readonly clock: Clock;

  constructor(options: VerifiedTokenCacheOptions = {}) {
    this.maxEntries = options.maxEntries ?? DEFAULT_VERIFIED_TOKEN_CACHE_ENTRIES;
    this.maxAgeMs = options.maxAgeMs ?? DEFAULT_VERIFIED_TOKEN_MAX_AGE_MS;
    this.clock = options.clock ?? systemClock;
    if (!Number.isInteger(this.maxEntries) || this.maxEntries < 0) throw new TypeError('maxEntries must be >= 0');
    if (!(this.maxAgeMs >= 0)) throw new TypeError('maxAgeMs must be >= 0');
  }

  get size(): number {
    return this.entries.size;
  }

  /** The value stored under `key` if it has not expired. */
  get(key: string): T | undefined {
    const entry = this.entries.get(key);
    if (entry === undefined) return undefined;
    if (this.clock.now() >= entry.expiresAtMs) {
      this.entries.delete(key);
      return undefined;
    }
    // Re-insert so that Map order stays least-recently-used first.
    this.entries.delete(key);
    this.entries.set(key, entry);
    return entry.value;
  }

  /** Stores `value` until `notAfterMs` or `maxAgeMs` from now, whichever is first. */
  set(key: string, value: T, notAfterMs: number): void {
    const expiresAtMs = Math.min(notAfterMs, this.clock.now() + this.maxAgeMs);
    if (!(expiresAtMs > this.clock.now()) || this.maxEntries === 0) return;
    this.entries.delete(key);
    this.entries.set(key, { value, expiresAtMs });
    while (this.entries.size > this.maxEntries) {
      const oldest = this.entries.keys().next();
      if (oldest.done) break;
      this.entries.delete(oldest.value);
    }
  }

  clear(): void {
    this.entries.clear();
  }
}
