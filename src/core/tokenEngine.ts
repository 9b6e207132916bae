import type { AlertEventName, AlertSeverity, AlertSink } from './alert';
import { backoffDelayMs, sleep as timerSleep } from './backoff';
import { type Clock, systemClock } from './clock';
import { withDeadline } from './deadline';
import type { BrokerConfig } from './config';
import type { ClientCredential, CredentialSource } from './credentialTypes';
import { BrokerError, type BrokerErrorCode, isBrokerError } from './errors';
import { describeError, type Logger } from './logger';
import { scopeKey } from './scope';
import { SingleFlight } from './singleFlight';
import type { AcquiredToken, TokenClient } from './tokenClient';
import type { ProviderHealth, ServedToken, TokenProvider } from './tokenProvider';

/** Budget of one request to Entra (passed to `TokenClient.acquire` as `timeoutMs`). */
export const DEFAULT_ATTEMPT_TIMEOUT_MS = 5_000;
/**
 * Budget of a whole acquisition, credential read and retries included. A caller waiting for a cold
 * scope gets its answer (token or 503) within about this time — far below the 230 s after which
 * the Functions front end cuts the HTTP request.
 */
export const DEFAULT_DEADLINE_MS = 12_000;
/** Requests to Entra per acquisition for transient failures (the retry with a reloaded credential comes on top). */
export const MAX_ATTEMPTS = 3;
/** No attempt is started with less time than this left before the deadline. */
export const MIN_ATTEMPT_MS = 100;
/** Configuration failures (invalid scope, unknown tenant or app, too-short token lifetime) are not retried for this long. */
export const CONFIGURATION_FAILURE_MEMORY_MS = 60_000;
/** A credential Entra refused (7000215 / 7000222) is not tried again for this long, unless a new version is loaded. */
export const CREDENTIAL_FAILURE_MEMORY_MS = 30_000;
/** Key Vault refusals (403, 404, disabled, unusable value) are not re-read for this long. */
export const KEY_VAULT_FAILURE_MEMORY_MS = 30_000;
/** After a failed background refresh, the next one waits at least this long (the cached token is still served). */
export const BACKGROUND_RETRY_MS = 10_000;
/**
 * Extra time given to `TokenClient.acquire` beyond the timeout it was asked to honour, before the
 * engine's own backstop deadline gives up on it (the client bounds itself; this guards against a bug).
 */
export const BACKSTOP_GRACE_MS = 1_000;
/**
 * Shortest lifetime taken as real. MSAL turns a missing, zero or unparseable `expires_in` into 0 and
 * rounds to whole seconds, so such an answer shows up as a token living under a second or two; Entra
 * itself never issues tokens below 10 minutes. Shorter → `entra_malformed_response` (retried).
 */
export const MIN_PLAUSIBLE_LIFETIME_MS = 5_000;
/** Throttling pause when Entra's 429 carries no usable `Retry-After`. */
export const DEFAULT_THROTTLE_SECONDS = 30;
/** Longest throttling pause honoured, whatever `Retry-After` says. */
export const MAX_THROTTLE_SECONDS = 300;
/** `Retry-After` told to callers after transient failures (5xx, network, timeout, malformed answers). */
export const TRANSIENT_RETRY_AFTER_SECONDS = 5;

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
  backgroundRetryAtMs: number | undefined;
}

interface AttemptProgress {
  attempts: number;
  /** The credential of the last request to Entra. */
  credential: ClientCredential | undefined;
  /** The credential that was in use when the acquisition started. */
  inUse: ClientCredential | undefined;
}

const TRANSIENT_CODES: ReadonlySet<BrokerErrorCode> = new Set<BrokerErrorCode>([
  'entra_transient',
  'entra_timeout',
  'entra_malformed_response',
]);
const CREDENTIAL_CODES: ReadonlySet<BrokerErrorCode> = new Set<BrokerErrorCode>([
  'entra_credential_rejected',
  'entra_credential_expired',
]);
const KEY_VAULT_REFUSAL_CODES: ReadonlySet<BrokerErrorCode> = new Set<BrokerErrorCode>([
  'keyvault_forbidden',
  'keyvault_not_found',
  'keyvault_disabled',
  'credential_invalid',
]);
const KEY_VAULT_TRANSIENT_CODES: ReadonlySet<BrokerErrorCode> = new Set<BrokerErrorCode>([
  'keyvault_throttled',
  'keyvault_transient',
  'keyvault_timeout',
]);

/**
 * Turns the Key Vault credential into cached Entra access tokens, one cache entry per scope.
 *
 * - The cache is the source of truth. A token is *fresh* until its refresh time (half its lifetime,
 *   or Entra's `refresh_in`, whichever comes first), then *due*: it is still served at once while a
 *   single background acquisition replaces it, as long as it has TOKEN_MIN_LIFETIME_SECONDS left.
 *   A token with less is never handed out; callers then wait for the acquisition.
 * - Expiry comes from `TokenClient` as receive time + `expires_in` on the injected clock; the JWT's
 *   `exp` is never read, so a skewed local clock does not matter.
 * - One acquisition per scope runs at a time (single-flight); everybody waiting shares its result,
 *   and a failed one is forgotten at once, so the next call tries again.
 * - Inside an acquisition: transient failures (5xx, network, timeout, malformed answer) are retried
 *   with jittered exponential backoff, at most {@link MAX_ATTEMPTS} requests and never past the
 *   deadline. A 429 is never slept on: the engine stops asking Entra for *every* scope until
 *   `Retry-After` has passed (Entra throttles per application, so asking for another scope would
 *   only prolong the throttling) and keeps serving cached tokens meanwhile. Configuration failures
 *   are not retried and are remembered for {@link CONFIGURATION_FAILURE_MEMORY_MS}. A refused
 *   credential (AADSTS7000215 / 7000222) makes the engine read the latest version from Key Vault
 *   once; a different version is tried once and promoted when it works.
 * - Errors thrown to callers are `BrokerError`s with a dependency code and `retryAfterSeconds`.
 *
 * A freshly acquired token that already has less than TOKEN_MIN_LIFETIME_SECONDS (a token lifetime
 * policy in the tenant shorter than the setting) fails with `token_lifetime_too_short` and an
 * `EntraConfigurationError` alert: lower the setting or the policy.
 */
export class TokenEngine implements TokenProvider {
  private readonly config: BrokerConfig;
  private readonly credentialSource: CredentialSource;
  private readonly tokenClient: TokenClient;
  private readonly alerts: AlertSink;
  private readonly logger: Logger;
  private readonly clock: Clock;
  private readonly random: () => number;
  private readonly attemptTimeoutMs: number;
  private readonly deadlineMs: number;
  private readonly sleep: (ms: number) => Promise<void>;
  private readonly minLifetimeMs: number;

  private readonly cache = new Map<string, CacheEntry>();
  private readonly states = new Map<string, ScopeState>();
  private readonly flights = new SingleFlight<string, CacheEntry>();
  /** Engine-wide: Entra throttles the application, not one scope. */
  private throttle: { untilMs: number; error: BrokerError } | undefined;

  /** @throws BrokerError `config_invalid` when a timing option is not a positive number. */
  constructor(options: TokenEngineOptions) {
    this.config = options.config;
    this.credentialSource = options.credentialSource;
    this.tokenClient = options.tokenClient;
    this.alerts = options.alerts;
    this.logger = options.logger.child('TokenEngine');
    this.clock = options.clock ?? systemClock;
    this.random = options.random ?? Math.random;
    this.attemptTimeoutMs = positive('attemptTimeoutMs', options.attemptTimeoutMs, DEFAULT_ATTEMPT_TIMEOUT_MS);
    this.deadlineMs = positive('deadlineMs', options.deadlineMs, DEFAULT_DEADLINE_MS);
    this.sleep = options.sleep ?? timerSleep;
    this.minLifetimeMs = this.config.tokenMinLifetimeSeconds * 1000;
  }

  /**
   * A token for `scope` with at least TOKEN_MIN_LIFETIME_SECONDS left; served from the cache when
   * possible (a due token is served at once and refreshed in the background).
   * @throws BrokerError `caller_forbidden` when `scope` is not one of TOKEN_SCOPES; otherwise a
   * dependency code (`entra_*`, `keyvault_*`, `credential_invalid`, `token_lifetime_too_short`) with
   * `retryAfterSeconds` set, when no such token can be had now.
   */
  async getToken(scope: string): Promise<ServedToken> {
    const canonical = this.canonicalScope(scope);
    const key = scopeKey(canonical);
    const now = this.clock.now();
    const entry = this.cache.get(key);
    if (entry && this.isServable(entry, now)) {
      if (now >= entry.refreshAtMs) this.refreshInBackground(key, canonical, now);
      return this.serve(entry, true);
    }
    const acquired = await this.sharedAcquisition(key, canonical);
    return this.serve(acquired, false);
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
      if (entry && this.isServable(entry, now)) continue;
      if (this.states.get(key)?.failingSinceMs !== undefined) return 'unhealthy';
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
      const canonical = this.canonicalScope(scope);
      const key = scopeKey(canonical);
      const entry = this.cache.get(key);
      if (entry && this.clock.now() < entry.refreshAtMs) return { scope: canonical, outcome: 'fresh' };
      await this.sharedAcquisition(key, canonical);
      return { scope: canonical, outcome: 'refreshed' };
    } catch (error) {
      return { scope, outcome: 'failed', error: toBrokerError(error) };
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
    const canonical = this.canonicalScope(scope);
    const key = scopeKey(canonical);
    const startedMs = this.clock.now();
    const progress: AttemptProgress = { attempts: 0, credential, inUse: undefined };
    try {
      this.assertNotThrottled(startedMs);
      const token = await this.requestWithRetries(canonical, credential, startedMs + this.deadlineMs, false, progress);
      const entry = this.store(key, canonical, token);
      this.recordSuccess(key, canonical, entry, progress, startedMs, 'tryCredential');
      return this.serve(entry, false);
    } catch (error) {
      const failure = this.withDerivedRetryAfter(toBrokerError(error));
      this.logger.warn('CandidateCredentialFailed', {
        scope: canonical,
        credentialVersion: credential.properties.version,
        code: failure.code,
        aadsts: failure.aadsts,
        correlationId: failure.correlationId,
        attempts: progress.attempts,
        latencyMs: this.clock.now() - startedMs,
        error: describeError(failure),
      });
      throw failure;
    }
  }

  /** Since when acquisitions for `scope` have failed without a success in between; undefined otherwise. */
  failingSinceMs(scope: string): number | undefined {
    return this.states.get(scopeKey(scope))?.failingSinceMs;
  }

  // ---- cache -------------------------------------------------------------------------------

  private isServable(entry: CacheEntry, now: number): boolean {
    return entry.expiresOnMs - now >= this.minLifetimeMs;
  }

  private serve(entry: CacheEntry, cacheHit: boolean): ServedToken {
    return {
      accessToken: entry.accessToken,
      expiresOnMs: entry.expiresOnMs,
      refreshAtMs: entry.refreshAtMs,
      scope: entry.scope,
      cacheHit,
    };
  }

  /**
   * Caches a token just received. Refresh time: half the lifetime or Entra's `refresh_in`, whichever
   * is first; if that would fall after the token stops being servable (lifetime under twice the
   * minimum), half of the servable window instead, so a refresh still starts while it is served.
   * @throws BrokerError `token_lifetime_too_short`.
   */
  private store(key: string, scope: string, token: AcquiredToken): CacheEntry {
    const acquiredAtMs = this.clock.now();
    const lifetimeMs = token.expiresOnMs - acquiredAtMs;
    if (lifetimeMs < this.minLifetimeMs) {
      throw new BrokerError(
        'token_lifetime_too_short',
        `Entra issued a token with ${Math.max(0, Math.floor(lifetimeMs / 1000))} s left, less than TOKEN_MIN_LIFETIME_SECONDS (${this.config.tokenMinLifetimeSeconds}); lower the setting or the tenant's token lifetime policy.`,
      );
    }
    const servableUntilMs = token.expiresOnMs - this.minLifetimeMs;
    let refreshAtMs = Math.min(acquiredAtMs + lifetimeMs / 2, token.refreshAfterMs ?? Number.POSITIVE_INFINITY);
    if (refreshAtMs >= servableUntilMs) refreshAtMs = acquiredAtMs + (servableUntilMs - acquiredAtMs) / 2;
    const entry: CacheEntry = {
      scope,
      accessToken: token.accessToken,
      expiresOnMs: token.expiresOnMs,
      refreshAtMs: Math.floor(refreshAtMs),
      acquiredAtMs,
    };
    const existing = this.cache.get(key);
    // A rotation trial and a regular acquisition may finish in either order: keep the longer-lived.
    if (!existing || entry.expiresOnMs >= existing.expiresOnMs) this.cache.set(key, entry);
    return entry;
  }

  private canonicalScope(scope: string): string {
    const key = scopeKey(scope);
    const configured = this.config.tokenScopes.find((candidate) => scopeKey(candidate) === key);
    // Defence in depth: the front door checks the policy first, but the engine must never use the
    // broker's credential for a scope the operator did not configure.
    if (configured === undefined) throw new BrokerError('caller_forbidden', 'The broker does not serve this scope.');
    return configured;
  }

  private state(key: string): ScopeState {
    let state = this.states.get(key);
    if (!state) {
      state = { failingSinceMs: undefined, remembered: undefined, backgroundRetryAtMs: undefined };
      this.states.set(key, state);
    }
    return state;
  }

  // ---- acquisition ------------------------------------------------------------------------

  /** Joins the running acquisition for `key`, or starts one unless a pause or remembered failure forbids it. */
  private sharedAcquisition(key: string, scope: string): Promise<CacheEntry> {
    const running = this.flights.get(key);
    if (running) return running;
    const refusal = this.refusal(key, this.clock.now());
    if (refusal) {
      this.logger.debug('TokenAcquisitionSkipped', {
        scope,
        code: refusal.code,
        retryAfterSeconds: refusal.retryAfterSeconds,
      });
      return Promise.reject(refusal);
    }
    return this.flights.run(key, () => this.acquire(key, scope));
  }

  private refreshInBackground(key: string, scope: string, now: number): void {
    if (this.flights.get(key)) return;
    const state = this.state(key);
    if (state.backgroundRetryAtMs !== undefined && now < state.backgroundRetryAtMs) return;
    if (this.refusal(key, now)) return;
    this.logger.debug('TokenRefreshStarted', { scope });
    // The shared promise has its own rejection handler (SingleFlight); this one records the failure.
    void this.flights
      .run(key, () => this.acquire(key, scope))
      .then(
        () => undefined,
        (error: unknown) => {
          const failure = toBrokerError(error);
          const waitMs = Math.max(BACKGROUND_RETRY_MS, (failure.retryAfterSeconds ?? 0) * 1000);
          state.backgroundRetryAtMs = this.clock.now() + waitMs;
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

  /** Why no request may be sent for `key` now, as the error to give callers; undefined when one may. */
  private refusal(key: string, now: number): BrokerError | undefined {
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

  private assertNotThrottled(now: number): void {
    if (this.throttle && now < this.throttle.untilMs) {
      throw withRetryAfter(this.throttle.error, secondsUntil(this.throttle.untilMs, now));
    }
  }

  /** One acquisition (the body of a single flight): credential, requests with retries, cache. */
  private async acquire(key: string, scope: string): Promise<CacheEntry> {
    const startedMs = this.clock.now();
    const progress: AttemptProgress = { attempts: 0, credential: undefined, inUse: undefined };
    try {
      const credential = await this.currentCredential(scope, startedMs + this.deadlineMs);
      progress.credential = credential;
      progress.inUse = credential;
      const token = await this.requestWithRetries(scope, credential, startedMs + this.deadlineMs, true, progress);
      const entry = this.store(key, scope, token);
      if (progress.credential && progress.credential !== credential) this.promoteReloaded(progress.credential, scope);
      this.recordSuccess(key, scope, entry, progress, startedMs, 'acquire');
      return entry;
    } catch (error) {
      throw this.recordFailure(key, scope, toBrokerError(error), progress, startedMs);
    }
  }

  /**
   * The credential in use. A Key Vault failure while a credential is already loaded does not stop
   * the broker: the loaded one keeps working (unless Key Vault says it was disabled).
   */
  private async currentCredential(scope: string, deadlineMs: number): Promise<ClientCredential> {
    try {
      // The source bounds its own reads; the backstop keeps the acquisition deadline even if it does not.
      return await withDeadline(
        this.credentialSource.current(),
        Math.max(MIN_ATTEMPT_MS, deadlineMs - this.clock.now()),
        'keyvault_timeout',
        'Reading the client credential',
      );
    } catch (error) {
      const failure = toBrokerError(error);
      const loaded = this.credentialSource.peek();
      if (loaded && failure.code.startsWith('keyvault_') && failure.code !== 'keyvault_disabled') {
        this.logger.warn('CredentialReadFailedUsingLoaded', {
          scope,
          code: failure.code,
          credentialVersion: loaded.properties.version,
        });
        return loaded;
      }
      throw failure;
    }
  }

  /**
   * Requests to Entra until one succeeds or a failure is final. `progress.credential` ends as the
   * credential of the last request (a reloaded one when the first was refused).
   */
  private async requestWithRetries(
    scope: string,
    initial: ClientCredential,
    deadlineMs: number,
    reloadOnRejection: boolean,
    progress: AttemptProgress,
  ): Promise<AcquiredToken> {
    let credential = initial;
    let reloaded = false;
    let lastError: BrokerError | undefined;
    for (;;) {
      const now = this.clock.now();
      const remainingMs = deadlineMs - now;
      if (remainingMs < MIN_ATTEMPT_MS) {
        throw lastError ?? new BrokerError('entra_timeout', 'No time was left to ask Entra for a token.');
      }
      // Another scope may have been throttled while this acquisition waited.
      this.assertNotThrottled(now);
      progress.attempts += 1;
      progress.credential = credential;
      try {
        const timeoutMs = Math.min(this.attemptTimeoutMs, remainingMs);
        const token = await withDeadline(
          this.tokenClient.acquire(credential, scope, { timeoutMs }),
          timeoutMs + BACKSTOP_GRACE_MS,
          'entra_timeout',
          'The token request to Entra',
        );
        if (token.expiresOnMs - this.clock.now() < MIN_PLAUSIBLE_LIFETIME_MS) {
          throw new BrokerError(
            'entra_malformed_response',
            'Entra answered with a missing, zero or unreadable token lifetime.',
          );
        }
        return token;
      } catch (error) {
        const failure = toBrokerError(error);
        lastError = failure;
        if (failure.code === 'entra_throttled') {
          this.openThrottle(failure, scope);
          throw failure;
        }
        if (TRANSIENT_CODES.has(failure.code)) {
          const delayMs = backoffDelayMs(progress.attempts, this.random);
          if (progress.attempts >= MAX_ATTEMPTS || this.clock.now() + delayMs + MIN_ATTEMPT_MS > deadlineMs) {
            throw failure;
          }
          this.logger.info('TokenAttemptFailed', {
            scope,
            attempt: progress.attempts,
            code: failure.code,
            upstreamStatus: failure.upstreamStatus,
            retryInMs: delayMs,
          });
          await this.sleep(delayMs);
          continue;
        }
        if (CREDENTIAL_CODES.has(failure.code) && reloadOnRejection && !reloaded) {
          reloaded = true;
          const latest = await this.reloadCredential(scope, credential, failure, deadlineMs);
          if (latest) {
            credential = latest;
            continue;
          }
        }
        throw failure;
      }
    }
  }

  /** Reads the latest credential version after a refusal; undefined when there is no other version to try. */
  private async reloadCredential(
    scope: string,
    refused: ClientCredential,
    failure: BrokerError,
    deadlineMs: number,
  ): Promise<ClientCredential | undefined> {
    try {
      const latest = await withDeadline(
        this.credentialSource.load(),
        Math.max(MIN_ATTEMPT_MS, deadlineMs - this.clock.now()),
        'keyvault_timeout',
        'Reloading the client credential',
      );
      const changed = latest.properties.version !== refused.properties.version;
      this.logger.info('CredentialReloaded', {
        scope,
        reason: failure.code,
        aadsts: failure.aadsts,
        refusedVersion: refused.properties.version,
        latestVersion: latest.properties.version,
        changed,
      });
      return changed ? latest : undefined;
    } catch (error) {
      this.logger.warn('CredentialReloadFailed', {
        scope,
        reason: failure.code,
        error: describeError(error),
      });
      return undefined;
    }
  }

  private promoteReloaded(credential: ClientCredential, scope: string): void {
    this.credentialSource.promote(credential);
    this.logger.info('CredentialRotated', {
      scope,
      credentialVersion: credential.properties.version,
      reason: 'reloaded',
    });
    this.raise(
      'CredentialRotated',
      'info',
      'Entra refused the credential in use; the latest version from Key Vault works and is now in use.',
      credential,
      { scope },
    );
  }

  private openThrottle(failure: BrokerError, scope: string): void {
    const requested = failure.retryAfterSeconds;
    const seconds =
      requested === undefined || !Number.isFinite(requested) || requested <= 0
        ? DEFAULT_THROTTLE_SECONDS
        : Math.min(Math.ceil(requested), MAX_THROTTLE_SECONDS);
    const untilMs = this.clock.now() + seconds * 1000;
    if (!this.throttle || untilMs > this.throttle.untilMs) this.throttle = { untilMs, error: failure };
    this.logger.warn('EntraThrottled', { scope, retryAfterSeconds: seconds, correlationId: failure.correlationId });
  }

  private recordSuccess(
    key: string,
    scope: string,
    entry: CacheEntry,
    progress: AttemptProgress,
    startedMs: number,
    via: 'acquire' | 'tryCredential',
  ): void {
    const state = this.state(key);
    state.failingSinceMs = undefined;
    state.remembered = undefined;
    state.backgroundRetryAtMs = undefined;
    this.logger.info('TokenAcquired', {
      scope,
      via,
      expiresOn: new Date(entry.expiresOnMs).toISOString(),
      refreshAt: new Date(entry.refreshAtMs).toISOString(),
      lifetimeSeconds: Math.floor((entry.expiresOnMs - entry.acquiredAtMs) / 1000),
      attempts: progress.attempts,
      latencyMs: entry.acquiredAtMs - startedMs,
      credentialVersion: progress.credential?.properties.version,
    });
  }

  /** Logs, alerts and remembers a failed acquisition; returns the error for callers. */
  private recordFailure(
    key: string,
    scope: string,
    failure: BrokerError,
    progress: AttemptProgress,
    startedMs: number,
  ): BrokerError {
    const now = this.clock.now();
    const state = this.state(key);
    state.failingSinceMs ??= now;
    state.remembered = undefined;
    // Remembered against the version in use: trying a reloaded version that fails too must not lift
    // the memory (that would mean two requests and a Key Vault read per caller: a retry storm).
    const inUse = progress.inUse;
    const version = inUse?.properties.version;
    const details: Record<string, string | number | boolean> = { scope, code: failure.code };
    if (failure.aadsts !== undefined) details.aadsts = failure.aadsts;
    const tried = progress.credential?.properties.version;
    if (tried !== undefined && tried !== version) details.alsoTriedVersion = tried;
    let rememberedUntilMs: number | undefined;
    const remember = (memoryMs: number, credentialVersion?: string): void => {
      rememberedUntilMs = now + memoryMs;
      state.remembered = { error: failure, untilMs: rememberedUntilMs, credentialVersion };
    };

    switch (failure.code) {
      case 'entra_configuration':
        remember(CONFIGURATION_FAILURE_MEMORY_MS);
        this.raise(
          'EntraConfigurationError',
          'error',
          'Entra refused the token request as misconfigured (tenant, app registration or scope).',
          inUse,
          details,
        );
        break;
      case 'token_lifetime_too_short':
        remember(CONFIGURATION_FAILURE_MEMORY_MS);
        this.raise(
          'EntraConfigurationError',
          'error',
          'Entra issues tokens shorter-lived than TOKEN_MIN_LIFETIME_SECONDS.',
          inUse,
          details,
        );
        break;
      case 'entra_credential_rejected':
        remember(CREDENTIAL_FAILURE_MEMORY_MS, version);
        this.raise(
          'CredentialRejected',
          'error',
          'Entra rejects the client credential, and Key Vault has no other version that works.',
          inUse,
          details,
        );
        break;
      case 'entra_credential_expired':
        remember(CREDENTIAL_FAILURE_MEMORY_MS, version);
        this.raise(
          'CredentialExpired',
          'error',
          'Entra reports the client credential as expired, and Key Vault has no newer version.',
          inUse,
          details,
        );
        break;
      default:
        if (KEY_VAULT_REFUSAL_CODES.has(failure.code)) {
          remember(KEY_VAULT_FAILURE_MEMORY_MS);
          this.raise(
            'KeyVaultAccessFailed',
            'error',
            'The client credential could not be read from Key Vault, or cannot be used.',
            undefined,
            details,
          );
        } else if (KEY_VAULT_TRANSIENT_CODES.has(failure.code)) {
          this.raise(
            'KeyVaultAccessFailed',
            'warning',
            'Key Vault did not answer the read of the client credential.',
            undefined,
            details,
          );
        }
    }

    const result = this.withDerivedRetryAfter(failure, rememberedUntilMs, now);
    this.logger.error('TokenAcquisitionFailed', {
      scope,
      code: result.code,
      aadsts: result.aadsts,
      correlationId: result.correlationId,
      upstreamStatus: result.upstreamStatus,
      attempts: progress.attempts,
      latencyMs: now - startedMs,
      retryAfterSeconds: result.retryAfterSeconds,
      credentialVersion: version,
      error: describeError(failure),
    });
    return result;
  }

  /** `failure` with the `retryAfterSeconds` callers should be told. */
  private withDerivedRetryAfter(failure: BrokerError, rememberedUntilMs?: number, now = this.clock.now()): BrokerError {
    if (failure.code === 'entra_throttled' && this.throttle && now < this.throttle.untilMs) {
      return withRetryAfter(failure, secondsUntil(this.throttle.untilMs, now));
    }
    if (rememberedUntilMs !== undefined && rememberedUntilMs > now) {
      return withRetryAfter(failure, secondsUntil(rememberedUntilMs, now));
    }
    if (failure.retryAfterSeconds !== undefined && failure.retryAfterSeconds > 0) {
      return withRetryAfter(failure, Math.min(Math.ceil(failure.retryAfterSeconds), MAX_THROTTLE_SECONDS));
    }
    if (CREDENTIAL_CODES.has(failure.code) || KEY_VAULT_REFUSAL_CODES.has(failure.code)) {
      return withRetryAfter(failure, CREDENTIAL_FAILURE_MEMORY_MS / 1000);
    }
    if (failure.code === 'entra_configuration' || failure.code === 'token_lifetime_too_short') {
      return withRetryAfter(failure, CONFIGURATION_FAILURE_MEMORY_MS / 1000);
    }
    return withRetryAfter(failure, TRANSIENT_RETRY_AFTER_SECONDS);
  }

  private raise(
    event: AlertEventName,
    severity: AlertSeverity,
    message: string,
    credential: ClientCredential | undefined,
    details: Record<string, string | number | boolean>,
  ): void {
    try {
      this.alerts.raise({
        event,
        severity,
        credentialName: this.config.credentialName,
        version: credential?.properties.version,
        message,
        details,
      });
    } catch (error) {
      // The sink must not throw; if it does, the token path must not fail because of it.
      this.logger.error('AlertSinkFailed', { event, error: describeError(error) });
    }
  }
}

function toBrokerError(error: unknown): BrokerError {
  if (isBrokerError(error)) return error;
  return new BrokerError('internal', 'Unexpected failure while acquiring a token.', { cause: error });
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

function positive(name: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (!Number.isFinite(value) || value <= 0) {
    throw new BrokerError('config_invalid', `TokenEngine option ${name} must be a positive number of milliseconds.`);
  }
  return value;
}
