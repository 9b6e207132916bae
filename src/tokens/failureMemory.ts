import type { Clock } from '../platform/clock';
import type { CredentialSource } from '../credentials/credentialTypes';
import { BrokerError, errorSpec } from '../contract/errors';
import type { Logger } from '../platform/logger';
import {
  boundedRetryAfterSeconds,
  DEFAULT_RETRY_AFTER_SECONDS,
  DEFAULT_THROTTLE_SECONDS,
} from '../contract/retryAfter';

/** A failure that makes further attempts pointless for a while (no retry storm). */
interface RememberedFailure {
  readonly error: BrokerError;
  readonly untilMs: number;
  /** For credential failures: the version Entra refused; a different loaded version lifts the memory. */
  readonly credentialVersion: string | undefined;
}

interface ScopeState {
  failingSinceMs: number | undefined;
  remembered: RememberedFailure | undefined;
}

/** The part of {@link FailureMemory} an acquisition needs while it talks to Entra. */
export interface ThrottleGate {
  /** @throws BrokerError `entra_throttled` (with `retryAfterSeconds`) while a throttling pause lasts. */
  assertNotThrottled(now: number): void;
  /** Opens (or extends) the engine-wide pause after Entra answered `failure` (a 429) for `scope`. */
  openThrottle(failure: BrokerError, scope: string): void;
}

export interface FailureMemoryOptions {
  clock: Clock;
  /** Only `peek()` is used: a remembered credential refusal is lifted once another version is loaded. */
  credentialSource: Pick<CredentialSource, 'peek'>;
  /** Already scoped to the owning component (the engine's log lines keep their prefix). */
  logger: Logger;
}

/**
 * What the token engine remembers about failures, so that it does not hammer Entra or Key Vault:
 *
 * - the throttling pause after a 429, engine-wide because Entra throttles the application, not one
 *   scope (asking for another scope would only prolong it);
 * - per scope, the last failure that makes retrying pointless for a while: how long is the error
 *   table's `remember` (contract/errors.ts), for a refused credential only while that version is
 *   still loaded;
 * - per scope, since when acquisitions have failed (for health);
 * - the `Retry-After` callers are told for a failure.
 *
 * Synchronous and without I/O; keys are `scopeKey(scope)`.
 */
export class FailureMemory implements ThrottleGate {
  private readonly clock: Clock;
  private readonly credentialSource: Pick<CredentialSource, 'peek'>;
  private readonly logger: Logger;
  private readonly states = new Map<string, ScopeState>();
  private throttle: { untilMs: number; error: BrokerError } | undefined;

  constructor(options: FailureMemoryOptions) {
    this.clock = options.clock;
    this.credentialSource = options.credentialSource;
    this.logger = options.logger;
  }

  /** Why no request may be sent for `key` now, as the error to give callers; undefined when one may. */
  refusal(key: string, now: number): BrokerError | undefined {
    if (this.throttle && now < this.throttle.untilMs) {
      return withRetryAfter(this.throttle.error, secondsUntil(this.throttle.untilMs, now));
    }
    const remembered = this.states.get(key)?.remembered;
    if (!remembered || now >= remembered.untilMs) return undefined;
    if (remembered.credentialVersion !== undefined) {
      // A refused credential is only remembered while it is still the one in use.
      const loaded = this.credentialSource.peek()?.properties.version;
      if (loaded !== undefined && loaded !== remembered.credentialVersion) return undefined;
    }
    return withRetryAfter(remembered.error, secondsUntil(remembered.untilMs, now));
  }

  /** @throws BrokerError `entra_throttled` (with `retryAfterSeconds`) while a throttling pause lasts. */
  assertNotThrottled(now: number): void {
    if (this.throttle && now < this.throttle.untilMs) {
      throw withRetryAfter(this.throttle.error, secondsUntil(this.throttle.untilMs, now));
    }
  }

  /**
   * Opens the pause for `Retry-After` (capped at MAX_RETRY_AFTER_SECONDS;
   * DEFAULT_THROTTLE_SECONDS when missing). A shorter pause never cuts a longer one short.
   */
  openThrottle(failure: BrokerError, scope: string): void {
    const seconds = boundedRetryAfterSeconds(failure.retryAfterSeconds, DEFAULT_THROTTLE_SECONDS);
    const untilMs = this.clock.now() + seconds * 1000;
    if (!this.throttle || untilMs > this.throttle.untilMs) this.throttle = { untilMs, error: failure };
    this.logger.warn('EntraThrottled', { scope, retryAfterSeconds: seconds, correlationId: failure.correlationId });
  }

  /** A token was acquired for `key`: it is no longer failing and nothing is remembered against it. */
  recordSuccess(key: string): void {
    const state = this.state(key);
    state.failingSinceMs = undefined;
    state.remembered = undefined;
  }

  /**
   * An acquisition for `key` failed with `failure`; remembers it when retrying would be pointless.
   * Credential refusals are remembered against `inUseVersion`, the version in use when the
   * acquisition started: a reloaded version that fails too must not lift the memory (that would
   * mean two requests and a Key Vault read per caller: a retry storm).
   * @returns until when the failure is remembered; undefined when it is not.
   */
  recordFailure(key: string, failure: BrokerError, inUseVersion: string | undefined, now: number): number | undefined {
    const state = this.state(key);
    state.failingSinceMs ??= now;
    state.remembered = undefined;
    const memory = errorSpec(failure.code).remember;
    if (!memory) return undefined;
    const untilMs = now + memory.ms;
    state.remembered = {
      error: failure,
      untilMs,
      credentialVersion: memory.whileVersionLoaded ? inUseVersion : undefined,
    };
    return untilMs;
  }

  /** Since when acquisitions for `key` have failed without a success in between; undefined otherwise. */
  failingSinceMs(key: string): number | undefined {
    return this.states.get(key)?.failingSinceMs;
  }

  /**
   * `failure` with the `retryAfterSeconds` callers should be told: the rest of the throttling pause
   * or of the remembered failure, else what upstream asked for, else as long as such a failure is
   * remembered, else DEFAULT_RETRY_AFTER_SECONDS.
   */
  withDerivedRetryAfter(failure: BrokerError, rememberedUntilMs?: number, now = this.clock.now()): BrokerError {
    if (failure.code === 'entra_throttled' && this.throttle && now < this.throttle.untilMs) {
      return withRetryAfter(failure, secondsUntil(this.throttle.untilMs, now));
    }
    if (rememberedUntilMs !== undefined && rememberedUntilMs > now) {
      return withRetryAfter(failure, secondsUntil(rememberedUntilMs, now));
    }
    if (failure.retryAfterSeconds !== undefined && failure.retryAfterSeconds > 0) {
      return withRetryAfter(failure, boundedRetryAfterSeconds(failure.retryAfterSeconds, DEFAULT_RETRY_AFTER_SECONDS));
    }
    const memory = errorSpec(failure.code).remember;
    return withRetryAfter(failure, memory ? memory.ms / 1000 : DEFAULT_RETRY_AFTER_SECONDS);
  }

  private state(key: string): ScopeState {
    let state = this.states.get(key);
    if (!state) {
      state = { failingSinceMs: undefined, remembered: undefined };
      this.states.set(key, state);
    }
    return state;
  }
}

/** A copy of `error` telling callers to come back after `seconds`. */
function withRetryAfter(error: BrokerError, seconds: number): BrokerError {
  if (error.retryAfterSeconds === seconds) return error;
  return new BrokerError(error.code, error.message, {
    cause: error.cause,
    retryAfterSeconds: seconds,
    upstreamStatus: error.upstreamStatus,
    upstreamError: error.upstreamError,
    aadsts: error.aadsts,
    correlationId: error.correlationId,
    traceId: error.traceId,
  });
}

function secondsUntil(untilMs: number, now: number): number {
  return Math.max(1, Math.ceil((untilMs - now) / 1000));
}
