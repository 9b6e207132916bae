import { backoffDelayMs } from '../platform/backoff';
import type { Clock } from '../platform/clock';
import type { ClientCredential, CredentialSource } from '../credentials/credentialTypes';
import { withDeadline } from '../platform/deadline';
import { BrokerError, errorSpec, toBrokerError } from '../contract/errors';
import type { ThrottleGate } from './failureMemory';
import { describeError, type Logger } from '../platform/logger';
import type { AcquiredToken, TokenClient } from './tokenClient';
import type { TokenLifetime } from './tokenLifetime';

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

/** How an acquisition, or its requests, ended: a usable token or the failure. */
type Outcome =
  | { readonly token: AcquiredToken; readonly failure?: undefined }
  | { readonly token?: undefined; readonly failure: BrokerError };

/** What one acquisition came to; the engine caches, logs, alerts and remembers from it. */
export type Acquisition = AcquisitionTrace & Outcome;

export interface AcquisitionTrace {
  readonly startedMs: number;
  /** Requests sent to Entra. */
  readonly attempts: number;
  /** The credential in use when the acquisition started; undefined when none could be read, and for a trial. */
  readonly inUse: ClientCredential | undefined;
  /** The credential of the last request to Entra (a reloaded one when the first was refused). */
  readonly lastTried: ClientCredential | undefined;
  /** A reloaded version that worked and has been made the one in use. */
  readonly promoted: ClientCredential | undefined;
}

/** The requests of one acquisition: how many, with which credential last, and how they ended. */
type Requests = { readonly attempts: number; readonly lastTried: ClientCredential } & Outcome;

export interface TokenAcquirerOptions {
  credentialSource: CredentialSource;
  tokenClient: TokenClient;
  /** Consulted before every request to Entra, and told about every 429. */
  throttleGate: ThrottleGate;
  /** Judges each token received (implausible or too short a lifetime). */
  lifetime: TokenLifetime;
  /** Already scoped to the owning component. */
  logger: Logger;
  clock: Clock;
  /** Source of jitter, like Math.random. */
  random: () => number;
  /** Waits between retries. */
  sleep: (ms: number) => Promise<void>;
  /** Budget of one request to Entra. */
  attemptTimeoutMs: number;
  /** Budget of a whole acquisition, from its start, credential read and retries included. */
  deadlineMs: number;
}

/** The message of an `internal` error that stands for an unexpected throw during an acquisition. */
export const UNEXPECTED = 'Unexpected failure while acquiring a token.';

/**
 * One acquisition of an Entra token, without any caching: the credential in use (the loaded one
 * when Key Vault fails) → requests with jittered exponential backoff for transient failures, at most
 * {@link MAX_ATTEMPTS} and never past the deadline → on a refused credential, one reload from Key
 * Vault and one request with a different version → promotion of that version once its token is
 * good. A 429 is never slept on: it opens the throttle gate and ends the acquisition. What to do
 * after each failure is the error table's `retry` (contract/errors.ts). Every step of one
 * acquisition is bounded by the same deadline.
 */
export class TokenAcquirer {
  private readonly credentialSource: CredentialSource;
  private readonly tokenClient: TokenClient;
  private readonly throttleGate: ThrottleGate;
  private readonly lifetime: TokenLifetime;
  private readonly logger: Logger;
  private readonly clock: Clock;
  private readonly random: () => number;
  private readonly sleep: (ms: number) => Promise<void>;
  private readonly attemptTimeoutMs: number;
  private readonly deadlineMs: number;

  constructor(options: TokenAcquirerOptions) {
    this.credentialSource = options.credentialSource;
    this.tokenClient = options.tokenClient;
    this.throttleGate = options.throttleGate;
    this.lifetime = options.lifetime;
    this.logger = options.logger;
    this.clock = options.clock;
    this.random = options.random;
    this.sleep = options.sleep;
    this.attemptTimeoutMs = options.attemptTimeoutMs;
    this.deadlineMs = options.deadlineMs;
  }

  /**
   * A token for `scope` with the credential in use; a reloaded version that works is promoted.
   * A failure is in the result, not thrown: `keyvault_*` / `credential_invalid` when no credential
   * can be had, `entra_*` or `token_lifetime_too_short` when Entra gives no usable token, `internal`
   * for anything unexpected from the credential source or the token client.
   */
  async obtain(scope: string): Promise<Acquisition> {
    const startedMs = this.clock.now();
    const deadlineMs = startedMs + this.deadlineMs;
    let inUse: ClientCredential | undefined;
    try {
      inUse = await this.credentialInUse(scope, deadlineMs);
    } catch (error) {
      const failure = toBrokerError(error, UNEXPECTED);
      return { startedMs, attempts: 0, inUse, lastTried: undefined, promoted: undefined, failure };
    }
    const requests = await this.requestWithRetries(scope, inUse, deadlineMs, true);
    if (requests.failure) return { startedMs, inUse, promoted: undefined, ...requests };
    const promoted = requests.lastTried === inUse ? undefined : requests.lastTried;
    if (promoted) this.credentialSource.promote(promoted);
    return { startedMs, inUse, promoted, ...requests };
  }

  /**
   * A token for `scope` with `candidate` (not the credential in use): the usual retries for
   * transient failures, but no reload on rejection and no promotion. A failure is in the result
   * (`entra_throttled` during a throttling pause, `entra_*`, `token_lifetime_too_short`, `internal`).
   */
  async trial(scope: string, candidate: ClientCredential): Promise<Acquisition> {
    const startedMs = this.clock.now();
    const trace = { startedMs, inUse: undefined, promoted: undefined };
    try {
      this.throttleGate.assertNotThrottled(startedMs);
    } catch (error) {
      return { ...trace, attempts: 0, lastTried: candidate, failure: toBrokerError(error, UNEXPECTED) };
    }
    return { ...trace, ...(await this.requestWithRetries(scope, candidate, startedMs + this.deadlineMs, false)) };
  }

  /**
   * The credential in use. A Key Vault failure while a credential is already loaded does not stop
   * the broker: the loaded one keeps working when the error table says so for that failure.
   */
  private async credentialInUse(scope: string, deadlineMs: number): Promise<ClientCredential> {
    try {
      return await this.beforeDeadline(
        this.credentialSource.current(),
        deadlineMs,
        'keyvault_timeout',
        'Reading the client credential',
      );
    } catch (error) {
      const failure = toBrokerError(error, UNEXPECTED);
      const loaded = this.credentialSource.peek();
      if (loaded && errorSpec(failure.code).keepsLoadedCredential) {
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

  /** Requests to Entra until one gives a usable token or a failure is final (in the result). */
  private async requestWithRetries(
    scope: string,
    initial: ClientCredential,
    deadlineMs: number,
    reloadOnRejection: boolean,
  ): Promise<Requests> {
    let credential = initial;
    let attempts = 0;
    let reloaded = false;
    let lastError: BrokerError | undefined;
    for (;;) {
      try {
        const now = this.clock.now();
        const remainingMs = deadlineMs - now;
        if (remainingMs < MIN_ATTEMPT_MS) {
          throw lastError ?? new BrokerError('entra_timeout', 'No time was left to ask Entra for a token.');
        }
        // Another scope may have been throttled while this acquisition waited.
        this.throttleGate.assertNotThrottled(now);
      } catch (error) {
        return { attempts, lastTried: credential, failure: toBrokerError(error, UNEXPECTED) };
      }
      attempts += 1;
      try {
        return { attempts, lastTried: credential, token: await this.requestOnce(scope, credential, deadlineMs) };
      } catch (error) {
        const failure = toBrokerError(error, UNEXPECTED);
        lastError = failure;
        const retry = errorSpec(failure.code).retry;
        if (retry === 'pause') this.throttleGate.openThrottle(failure, scope);
        if (retry === 'backoff') {
          const delayMs = backoffDelayMs(attempts, this.random);
          if (attempts < MAX_ATTEMPTS && this.clock.now() + delayMs + MIN_ATTEMPT_MS <= deadlineMs) {
            this.logger.info('TokenAttemptFailed', {
              scope,
              attempt: attempts,
              code: failure.code,
              upstreamStatus: failure.upstreamStatus,
              retryInMs: delayMs,
            });
            await this.sleep(delayMs);
            continue;
          }
        }
        if (retry === 'reload' && reloadOnRejection && !reloaded) {
          reloaded = true;
          const latest = await this.reloadCredential(scope, credential, failure, deadlineMs);
          if (latest) {
            credential = latest;
            continue;
          }
        }
        return { attempts, lastTried: credential, failure };
      }
    }
  }

  /**
   * One request to Entra, given the time left (at most the attempt budget), and its token judged.
   * The client bounds itself by `timeoutMs`; the acquisition deadline guards against one that does not.
   */
  private async requestOnce(scope: string, credential: ClientCredential, deadlineMs: number): Promise<AcquiredToken> {
    const timeoutMs = Math.min(this.attemptTimeoutMs, deadlineMs - this.clock.now());
    const token = await this.beforeDeadline(
      this.tokenClient.acquire(credential, scope, { timeoutMs }),
      deadlineMs,
      'entra_timeout',
      'The token request to Entra',
    );
    const problem = this.lifetime.problemWith(token, this.clock.now());
    if (problem) throw problem;
    return token;
  }

  /** Reads the latest credential version after a refusal; undefined when there is no other version to try. */
  private async reloadCredential(
    scope: string,
    refused: ClientCredential,
    failure: BrokerError,
    deadlineMs: number,
  ): Promise<ClientCredential | undefined> {
    try {
      const latest = await this.beforeDeadline(
        this.credentialSource.load(),
        deadlineMs,
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

  /** `work` bounded by the acquisition's deadline (at least MIN_ATTEMPT_MS, so a late step still gets a chance). */
  private beforeDeadline<T>(
    work: Promise<T>,
    deadlineMs: number,
    code: 'entra_timeout' | 'keyvault_timeout',
    what: string,
  ): Promise<T> {
    return withDeadline(work, Math.max(MIN_ATTEMPT_MS, deadlineMs - this.clock.now()), code, what);
  }
}
