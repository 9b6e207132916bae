import { type Clock, systemClock } from '../platform/clock';
import type { BrokerConfig } from '../contract/config';

export interface RateLimiterOptions {
  /** Sustained requests per minute per caller (CALLER_RATE_LIMIT_PER_MINUTE). */
  readonly limitPerMinute: number;
  /** Bucket size: requests a caller may make at once. Default `burstForLimit(limitPerMinute)`. */
  readonly burst?: number;
  readonly clock?: Clock;
  /** Callers tracked at most; idle ones are forgotten first. Default 10 000. */
  readonly maxTrackedCallers?: number;
}

export type RateLimitDecision =
  { readonly allowed: true } | { readonly allowed: false; readonly retryAfterSeconds: number };

interface Bucket {
  tokens: number;
  updatedMs: number;
}

/**
 * Default burst: a whole minute's worth of the limit. "600 per minute" then means what a client
 * expects — 600 requests pass even if sent at once, the next one waits — and the bucket refills at
 * `limit/60` per second. A well-behaved caller asks once per `refresh_in` (minutes), so only a
 * broken loop comes near it.
 */
export function burstForLimit(limitPerMinute: number): number {
  return Math.max(1, Math.floor(limitPerMinute));
}

/**
 * Per-caller token bucket, in memory per instance . Keys are caller app IDs, which only
 * exist after authentication, so unauthenticated floods cannot grow the map; it is bounded anyway.
 */
export class RateLimiter {
  private readonly buckets = new Map<string, Bucket>();
  private readonly capacity: number;
  private readonly refillPerMs: number;
  private readonly clock: Clock;
  private readonly maxTrackedCallers: number;

  constructor(options: RateLimiterOptions) {
    const { limitPerMinute } = options;
    if (!(Number.isFinite(limitPerMinute) && limitPerMinute > 0)) throw new TypeError('limitPerMinute must be > 0');
    this.capacity = options.burst ?? burstForLimit(limitPerMinute);
    if (!(Number.isFinite(this.capacity) && this.capacity >= 1)) throw new TypeError('burst must be >= 1');
    this.refillPerMs = limitPerMinute / 60_000;
    this.clock = options.clock ?? systemClock;
    this.maxTrackedCallers = options.maxTrackedCallers ?? 10_000;
  }

  /** The limiter for CALLER_RATE_LIMIT_PER_MINUTE with the default burst. */
  static fromConfig(config: BrokerConfig, clock?: Clock): RateLimiter {
    return new RateLimiter({ limitPerMinute: config.callerRateLimitPerMinute, clock });
  }

  /** Takes one request from `callerKey`'s bucket, or says how long until one is available. */
  take(callerKey: string): RateLimitDecision {
    const now = this.clock.now();
    let bucket = this.buckets.get(callerKey);
    if (bucket === undefined) {
      bucket = { tokens: this.capacity, updatedMs: now };
      this.track(callerKey, bucket);
    } else {
      // A clock that steps back must not mint tokens or lock a caller out.
      const elapsedMs = Math.max(0, now - bucket.updatedMs);
      bucket.tokens = Math.min(this.capacity, bucket.tokens + elapsedMs * this.refillPerMs);
      bucket.updatedMs = now;
      // Most recently used last, so eviction drops the idlest callers.
      this.buckets.delete(callerKey);
      this.buckets.set(callerKey, bucket);
    }
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      return { allowed: true };
    }
    const waitMs = (1 - bucket.tokens) / this.refillPerMs;
    return { allowed: false, retryAfterSeconds: Math.max(1, Math.ceil(waitMs / 1000)) };
  }

  private track(callerKey: string, bucket: Bucket): void {
    this.buckets.set(callerKey, bucket);
    while (this.buckets.size > this.maxTrackedCallers) {
      const oldest = this.buckets.keys().next();
      if (oldest.done) break;
      this.buckets.delete(oldest.value);
    }
  }
}
