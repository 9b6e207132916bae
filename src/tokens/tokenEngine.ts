import { AcquisitionAlerts } from './acquisitionAlerts';
import type { AlertSink } from '../contract/alert';
import { sleep as timerSleep } from '../platform/backoff';
import { type Clock, systemClock } from '../platform/clock';
import type { BrokerConfig } from '../contract/config';
import type { ClientCredential, CredentialSource } from '../credentials/credentialTypes';
import { BrokerError, toBrokerError } from '../contract/errors';
import { FailureMemory } from './failureMemory';
import { describeError, type Logger } from '../platform/logger';
import { scopeKey } from '../contract/scope';
import { SingleFlight } from '../platform/singleFlight';
import {
  type AcquisitionTrace,
  DEFAULT_ATTEMPT_TIMEOUT_MS,
  DEFAULT_DEADLINE_MS,
  TokenAcquirer,
  UNEXPECTED,
} from './tokenAcquirer';
import type { AcquiredToken, TokenClient } from './tokenClient';
import { TokenLifetime } from './tokenLifetime';
import type { ProviderHealth, ServedToken, TokenProvider } from './tokenProvider';

/** After a failed background refresh, the next one waits at least this long (the cached token is still served). */
export const BACKGROUND_RETRY_MS = 10_000;

export interface TokenEngineOptions {
  config: BrokerConfig;
  credentialSource: CredentialSource;
  tokenClient: TokenClient;
  alerts: AlertSink;
  logger: Logger;
  clock?: Clock;
  /** Source of jitter, like Math.random. */
  random?: () => number;
  /** Budget of one request to Entra; default {@link DEFAULT_ATTEMPT_TIMEOUT_MS}. */
  attemptTimeoutMs?: number;
  /** Budget of a whole acquisition including retries; default {@link DEFAULT_DEADLINE_MS}. */
  deadlineMs?: number;
  /** Waits between retries; tests pass one that moves their fake clock. Default: a real timer. */
  sleep?: (ms: number) => Promise<void>;
}

export type RefreshOutcome = { scope: string; outcome: 'fresh' | 'refreshed' | 'failed'; error?: BrokerError };

interface CacheEntry {
  readonly scope: string;
  readonly accessToken: string;
  readonly expiresOnMs: number;
  readonly refreshAtMs: number;
  readonly acquiredAtMs: number;
}

/**
 * Turns the Key Vault credential into cached Entra access tokens, one cache entry per scope.
 *
 * - The cache is the source of truth. A token is *fresh* until its refresh time (half its lifetime,
 *   or Entra's `refresh_in`, whichever comes first), then *due*: it is still served at once while a
 *   single background acquisition replaces it, as long as it has TOKEN_MIN_LIFETIME_SECONDS left.
 *   A token with less is never handed out; callers then wait for the acquisition.
 * - One acquisition per scope runs at a time (single-flight); everybody waiting shares its result,
 *   and a failed one is forgotten at once, so the next call tries again.
 * - A 429 makes the engine stop asking Entra for *every* scope until `Retry-After` has passed
 *   (Entra throttles per application) while it keeps serving cached tokens. Failures that retrying
 *   cannot fix soon are remembered for a while (the error table's `remember`).
 * - Errors thrown to callers are `BrokerError`s with a dependency code and `retryAfterSeconds`.
 *
 * Where the parts live: one acquisition (credential, retries, reload, promotion) is a
 * {@link TokenAcquirer}, which returns what happened; lifetimes are judged by {@link TokenLifetime};
 * the throttle gate, remembered failures, health state and `Retry-After` are a {@link FailureMemory};
 * alerts go through {@link AcquisitionAlerts}. This class owns the cache, serving, refresh-ahead and
 * single-flight, and records each acquisition's outcome.
 */
export class TokenEngine implements TokenProvider {
  private readonly config: BrokerConfig;
  private readonly logger: Logger;
  private readonly clock: Clock;
  private readonly lifetime: TokenLifetime;
  private readonly memory: FailureMemory;
  private readonly alerts: AcquisitionAlerts;
  private readonly acquirer: TokenAcquirer;

  private readonly cache = new Map<string, CacheEntry>();
  /** Per scope key: no background refresh starts before this time (set after one failed). */
  private readonly backgroundRetryAtMs = new Map<string, number>();
  private readonly flights = new SingleFlight<string, CacheEntry>();

  /** @throws BrokerError `config_invalid` when a timing option is not a positive number. */
  constructor(options: TokenEngineOptions) {
    this.config = options.config;
    this.logger = options.logger.child('TokenEngine');
    this.clock = options.clock ?? systemClock;
    this.lifetime = new TokenLifetime(this.config.tokenMinLifetimeSeconds);
    const attemptTimeoutMs = positive('attemptTimeoutMs', options.attemptTimeoutMs, DEFAULT_ATTEMPT_TIMEOUT_MS);
    const deadlineMs = positive('deadlineMs', options.deadlineMs, DEFAULT_DEADLINE_MS);
    // All parts log through the engine's logger, so their lines keep the TokenEngine prefix.
    this.memory = new FailureMemory({
      clock: this.clock,
      credentialSource: options.credentialSource,
      logger: this.logger,
    });
    this.alerts = new AcquisitionAlerts({
      sink: options.alerts,
      credentialName: this.config.credentialName,
      logger: this.logger,
    });
    this.acquirer = new TokenAcquirer({
      credentialSource: options.credentialSource,
      tokenClient: options.tokenClient,
      throttleGate: this.memory,
      lifetime: this.lifetime,
      logger: this.logger,
      clock: this.clock,
      random: options.random ?? Math.random,
      sleep: options.sleep ?? timerSleep,
      attemptTimeoutMs,
      deadlineMs,
    });
  }

  /**
   * A token for `scope` with at least TOKEN_MIN_LIFETIME_SECONDS left; served from the cache when
   * possible (a due token is served at once and refreshed in the background).
   * @throws BrokerError `caller_forbidden` when `scope` is not one of TOKEN_SCOPES; otherwise a
   * dependency code (`entra_*`, `keyvault_*`, `credential_invalid`, `token_lifetime_too_short`,
   * `managed_identity_unavailable`) with `retryAfterSeconds` set, when no such token can be had now.
   */
  async getToken(scope: string): Promise<ServedToken> {
    const key = scopeKey(scope);
    const canonical = this.canonicalScope(key);
    const now = this.clock.now();
    const entry = this.cache.get(key);
    if (entry && this.lifetime.isServable(entry.expiresOnMs, now)) {
      if (now >= entry.refreshAtMs) this.refreshInBackground(key, canonical, now);
      return serve(entry, true);
    }
    return serve(await this.sharedAcquisition(key, canonical), false);
  }

  /**
   * `unhealthy` when a configured scope has no servable token and its last acquisition failed (a
   * caller asking for it would get 503 now). Synchronous and without I/O.
   */
  health(): ProviderHealth {
    const now = this.clock.now();
    for (const scope of this.config.tokenScopes) {
      const key = scopeKey(scope);
      const entry = this.cache.get(key);
      if (entry && this.lifetime.isServable(entry.expiresOnMs, now)) continue;
      if (this.memory.failingSinceMs(key) !== undefined) return 'unhealthy';
    }
    return 'ok';
  }

  /**
   * For the warm-up timer: acquires `scope` when it has no token or its token is due, joining any
   * acquisition already running. A failure never removes a cached token that is still valid.
   * Never throws (the failure is in the outcome).
   */
  async refreshIfDue(scope: string): Promise<RefreshOutcome> {
    try {
      const key = scopeKey(scope);
      const canonical = this.canonicalScope(key);
      const entry = this.cache.get(key);
      if (entry && this.clock.now() < entry.refreshAtMs) return { scope: canonical, outcome: 'fresh' };
      await this.sharedAcquisition(key, canonical);
      return { scope: canonical, outcome: 'refreshed' };
    } catch (error) {
      return { scope, outcome: 'failed', error: toBrokerError(error, UNEXPECTED) };
    }
  }

  /**
   * Safe rotation: acquires `scope` with `credential` (a candidate, not the credential in use), with
   * the usual retries for transient failures but without reloading on rejection. On success the
   * token is cached and the caller should then `credentialSource.promote(credential)`.
   * Respects an active throttling pause and opens one on 429.
   * @throws BrokerError `caller_forbidden` for a scope not in TOKEN_SCOPES; `entra_*` or
   * `token_lifetime_too_short` with `retryAfterSeconds`.
   */
  async tryCredential(credential: ClientCredential, scope: string): Promise<ServedToken> {
    const key = scopeKey(scope);
    const canonical = this.canonicalScope(key);
    const trial = await this.acquirer.trial(canonical, credential);
    if (trial.token) return serve(this.recordSuccess(key, canonical, trial, trial.token, 'tryCredential'), false);
    const failure = this.memory.withDerivedRetryAfter(trial.failure);
    this.logger.warn('CandidateCredentialFailed', {
      scope: canonical,
      credentialVersion: credential.properties.version,
      code: failure.code,
      aadsts: failure.aadsts,
      correlationId: failure.correlationId,
      attempts: trial.attempts,
      latencyMs: this.clock.now() - trial.startedMs,
      error: describeError(failure),
    });
    throw failure;
  }

  /** Since when acquisitions for `scope` have failed without a success in between; undefined otherwise. */
  failingSinceMs(scope: string): number | undefined {
    return this.memory.failingSinceMs(scopeKey(scope));
  }

  /** The configured spelling of the scope with this `scopeKey`. */
  private canonicalScope(key: string): string {
    const configured = this.config.tokenScopesByKey.get(key);
    // Defence in depth: the front door checks the policy first, but the engine must never use the
    // broker's credential for a scope the operator did not configure.
    if (configured === undefined) throw new BrokerError('caller_forbidden', 'The broker does not serve this scope.');
    return configured;
  }

  /** Joins the running acquisition for `key`, or starts one unless a pause or remembered failure forbids it. */
  private sharedAcquisition(key: string, scope: string): Promise<CacheEntry> {
    const running = this.flights.get(key);
    if (running) return running;
    const refusal = this.memory.refusal(key, this.clock.now());
    if (refusal) {
      this.logger.debug('TokenAcquisitionSkipped', {
        scope,
        code: refusal.code,
        retryAfterSeconds: refusal.retryAfterSeconds,
      });
      return Promise.reject(refusal);
    }
    return this.flights.run(key, () => this.acquireAndRecord(key, scope));
  }

  private refreshInBackground(key: string, scope: string, now: number): void {
    if (this.flights.get(key)) return;
    const retryAtMs = this.backgroundRetryAtMs.get(key);
    if (retryAtMs !== undefined && now < retryAtMs) return;
    if (this.memory.refusal(key, now)) return;
    this.logger.debug('TokenRefreshStarted', { scope });
    // The shared promise has its own rejection handler (SingleFlight); this one records the failure.
    void this.flights
      .run(key, () => this.acquireAndRecord(key, scope))
      .then(
        () => undefined,
        (error: unknown) => {
          const failure = toBrokerError(error, UNEXPECTED);
          const waitMs = Math.max(BACKGROUND_RETRY_MS, (failure.retryAfterSeconds ?? 0) * 1000);
          this.backgroundRetryAtMs.set(key, this.clock.now() + waitMs);
          const cached = this.cache.get(key);
          this.logger.warn('TokenRefreshFailed', {
            scope,
            code: failure.code,
            nextAttemptInMs: waitMs,
            cachedTokenExpiresOn: cached ? new Date(cached.expiresOnMs).toISOString() : undefined,
          });
        },
      );
  }

  /** The body of a single flight: one acquisition by the {@link TokenAcquirer}, its outcome recorded. */
  private async acquireAndRecord(key: string, scope: string): Promise<CacheEntry> {
    const acquisition = await this.acquirer.obtain(scope);
    if (acquisition.token) return this.recordSuccess(key, scope, acquisition, acquisition.token, 'acquire');
    throw this.recordFailure(key, scope, acquisition, acquisition.failure);
  }

  /** Caches the token (keeping the longer-lived one if another arrived meanwhile), logs and alerts. */
  private recordSuccess(
    key: string,
    scope: string,
    trace: AcquisitionTrace,
    token: AcquiredToken,
    via: 'acquire' | 'tryCredential',
  ): CacheEntry {
    if (trace.promoted) {
      const credentialVersion = trace.promoted.properties.version;
      this.logger.info('CredentialRotated', { scope, credentialVersion, reason: 'reloaded' });
      this.alerts.credentialRotated(trace.promoted, scope);
    }
    const acquiredAtMs = this.clock.now();
    const entry: CacheEntry = {
      scope,
      accessToken: token.accessToken,
      expiresOnMs: token.expiresOnMs,
      refreshAtMs: this.lifetime.refreshAtMs(token, acquiredAtMs),
      acquiredAtMs,
    };
    const existing = this.cache.get(key);
    // A rotation trial and a regular acquisition may finish in either order: keep the longer-lived.
    if (!existing || entry.expiresOnMs >= existing.expiresOnMs) this.cache.set(key, entry);
    this.memory.recordSuccess(key);
    this.backgroundRetryAtMs.delete(key);
    this.logger.info('TokenAcquired', {
      scope,
      via,
      expiresOn: new Date(entry.expiresOnMs).toISOString(),
      refreshAt: new Date(entry.refreshAtMs).toISOString(),
      lifetimeSeconds: Math.floor((entry.expiresOnMs - acquiredAtMs) / 1000),
      attempts: trace.attempts,
      latencyMs: acquiredAtMs - trace.startedMs,
      credentialVersion: trace.lastTried?.properties.version,
    });
    return entry;
  }

  /** Logs, alerts and remembers a failed acquisition; returns the error for callers. */
  private recordFailure(key: string, scope: string, trace: AcquisitionTrace, failure: BrokerError): BrokerError {
    const now = this.clock.now();
    const version = trace.inUse?.properties.version;
    const rememberedUntilMs = this.memory.recordFailure(key, failure, version, now);
    const details: Record<string, string | number | boolean> = { scope, code: failure.code };
    if (failure.aadsts !== undefined) details.aadsts = failure.aadsts;
    const tried = trace.lastTried?.properties.version;
    if (tried !== undefined && tried !== version) details.alsoTriedVersion = tried;
    this.alerts.acquisitionFailed(failure, trace.inUse, details);

    const result = this.memory.withDerivedRetryAfter(failure, rememberedUntilMs, now);
    this.logger.error('TokenAcquisitionFailed', {
      scope,
      code: result.code,
      aadsts: result.aadsts,
      correlationId: result.correlationId,
      upstreamStatus: result.upstreamStatus,
      attempts: trace.attempts,
      latencyMs: now - trace.startedMs,
      retryAfterSeconds: result.retryAfterSeconds,
      credentialVersion: version,
      error: describeError(failure),
    });
    return result;
  }
}

function serve(entry: CacheEntry, cacheHit: boolean): ServedToken {
  return {
    accessToken: entry.accessToken,
    expiresOnMs: entry.expiresOnMs,
    refreshAtMs: entry.refreshAtMs,
    scope: entry.scope,
    cacheHit,
  };
}

function positive(name: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (!Number.isFinite(value) || value <= 0) {
    throw new BrokerError('config_invalid', `TokenEngine option ${name} must be a positive number of milliseconds.`);
  }
  return value;
}
