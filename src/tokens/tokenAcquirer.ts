import type { AcquisitionAlerts } from './acquisitionAlerts';
import { backoffDelayMs } from '../platform/backoff';
import type { Clock } from '../platform/clock';
import type { ClientCredential, CredentialSource } from '../credentials/credentialTypes';
import { withDeadline } from '../platform/deadline';
import { BrokerError, type BrokerErrorCode, isBrokerError } from '../contract/errors';
import { CREDENTIAL_CODES, type ThrottleGate } from './failureMemory';
import { describeError, type Logger } from '../platform/logger';
import type { AcquiredToken, TokenClient } from './tokenClient';

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

const TRANSIENT_CODES: ReadonlySet<BrokerErrorCode> = new Set<BrokerErrorCode>([
  'entra_transient',
  'entra_timeout',
  'entra_malformed_response',
]);

/** What an acquisition got to before it ended; read by the caller for its logs, on success and failure. */
export interface AttemptProgress {
  attempts: number;
  /** The credential of the last request to Entra. */
  credential: ClientCredential | undefined;
  /** The credential that was in use when the acquisition started. */
  inUse: ClientCredential | undefined;
}

export interface TokenAcquirerOptions {
  credentialSource: CredentialSource;
  tokenClient: TokenClient;
  /** Consulted before every request to Entra, and told about every 429. */
  throttleGate: ThrottleGate;
  alerts: AcquisitionAlerts;
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

/**
 * One acquisition of an Entra token, without any caching: the credential in use (the loaded one
 * when Key Vault fails) → requests with jittered exponential backoff for transient failures, at most
 * {@link MAX_ATTEMPTS} and never past the deadline → on a refused credential, one reload from Key
 * Vault and one request with a different version → promotion of that version once its token is kept.
 * A 429 is never slept on: it opens the throttle gate and ends the acquisition.
 */
export class TokenAcquirer {
  private readonly credentialSource: CredentialSource;
  private readonly tokenClient: TokenClient;
  private readonly throttleGate: ThrottleGate;
  private readonly alerts: AcquisitionAlerts;
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
    this.alerts = options.alerts;
    this.logger = options.logger;
    this.clock = options.clock;
    this.random = options.random;
    this.sleep = options.sleep;
    this.attemptTimeoutMs = options.attemptTimeoutMs;
    this.deadlineMs = options.deadlineMs;
  }

  /**
   * Acquires a token for `scope` with the credential in use and hands it to `keep`. `keep` runs
   * before a reloaded credential is promoted, so a token it refuses (by throwing) promotes nothing.
   * `progress` is updated as the acquisition goes (for the caller's logs).
   * @throws BrokerError `keyvault_*` / `credential_invalid` when no credential can be had; `entra_*`
   * when Entra gives no token; whatever `keep` throws; `internal` for anything unexpected.
   */
  async acquire<T>(
    scope: string,
    startedMs: number,
    progress: AttemptProgress,
    keep: (token: AcquiredToken) => T,
  ): Promise<T> {
    const deadlineMs = startedMs + this.deadlineMs;
    const credential = await this.currentCredential(scope, deadlineMs);
    progress.credential = credential;
    progress.inUse = credential;
    const token = await this.requestWithRetries(scope, credential, deadlineMs, true, progress);
    const kept = keep(token);
    if (progress.credential && progress.credential !== credential) this.promoteReloaded(progress.credential, scope);
    return kept;
  }

  /**
   * Acquires a token for `scope` with `candidate` (not the credential in use) and hands it to
   * `keep`: the usual retries for transient failures, but no reload on rejection and no promotion.
   * @throws BrokerError `entra_throttled` during a throttling pause; `entra_*` when Entra gives no
   * token; whatever `keep` throws; `internal` for anything unexpected.
   */
  async tryCandidate<T>(
    scope: string,
    candidate: ClientCredential,
    startedMs: number,
    progress: AttemptProgress,
    keep: (token: AcquiredToken) => T,
  ): Promise<T> {
    this.throttleGate.assertNotThrottled(startedMs);
    const token = await this.requestWithRetries(scope, candidate, startedMs + this.deadlineMs, false, progress);
    return keep(token);
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
      this.throttleGate.assertNotThrottled(now);
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
          this.throttleGate.openThrottle(failure, scope);
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
    this.alerts.credentialRotated(credential, scope);
  }
}

/**
 * `error` as a BrokerError: unexpected throws (bugs, a misbehaving fake) become `internal`, with the
 * original kept as `cause` for the log and never shown to callers.
 */
export function toBrokerError(error: unknown): BrokerError {
  if (isBrokerError(error)) return error;
  return new BrokerError('internal', 'Unexpected failure while acquiring a token.', { cause: error });
}
