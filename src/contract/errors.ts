/**
 * Every failure the broker knows about has a fixed code from this closed union, so callers
 * `switch (err.code)` and never parse messages. `toHttpError` (httpErrors.ts) is the one place
 * that turns a code into an HTTP response.
 */
export type BrokerErrorCode =
  // configuration, found at start
  | 'config_invalid'
  // the caller's request (4xx)
  | 'request_invalid'
  | 'method_not_allowed'
  | 'payload_too_large'
  | 'unsupported_media_type'
  | 'caller_token_missing'
  | 'caller_token_invalid'
  | 'caller_forbidden'
  | 'caller_rate_limited'
  // dependencies (503)
  | 'caller_keys_unavailable'
  | 'entra_credential_rejected'
  | 'entra_credential_expired'
  | 'entra_configuration'
  | 'entra_throttled'
  | 'entra_transient'
  | 'entra_timeout'
  | 'entra_malformed_response'
  | 'keyvault_forbidden'
  | 'keyvault_not_found'
  | 'keyvault_disabled'
  | 'keyvault_throttled'
  | 'keyvault_transient'
  | 'keyvault_timeout'
  | 'credential_invalid'
  | 'token_lifetime_too_short'
  // anything else: a bug
  | 'internal';

export interface BrokerErrorOptions {
  cause?: unknown;
  /** Seconds after which a retry may succeed (429/503 `Retry-After`). */
  retryAfterSeconds?: number;
  /** Upstream HTTP status, when the failure came from Entra or Key Vault. */
  upstreamStatus?: number;
  /** Upstream error code such as `invalid_client` or `SecretNotFound` (never upstream free text). */
  upstreamError?: string;
  /** AADSTS numeric code, when Entra gave one. */
  aadsts?: number;
  correlationId?: string;
  traceId?: string;
}

/**
 * The one error type of the broker. `message` is written by us, never copied from upstream, so it
 * is safe to log; `cause` may hold upstream objects and must go through `describeError` before
 * it is logged.
 */
export class BrokerError extends Error {
  override readonly name = 'BrokerError';
  readonly code: BrokerErrorCode;
  readonly retryAfterSeconds: number | undefined;
  readonly upstreamStatus: number | undefined;
  readonly upstreamError: string | undefined;
  readonly aadsts: number | undefined;
  readonly correlationId: string | undefined;
  readonly traceId: string | undefined;

  constructor(code: BrokerErrorCode, message: string, options: BrokerErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.retryAfterSeconds = options.retryAfterSeconds;
    this.upstreamStatus = options.upstreamStatus;
    this.upstreamError = options.upstreamError;
    this.aadsts = options.aadsts;
    this.correlationId = options.correlationId;
    this.traceId = options.traceId;
  }
}

export function isBrokerError(value: unknown): value is BrokerError {
  return value instanceof BrokerError;
}

/** Codes that mean "a dependency failed; try again later" (HTTP 503). */
export const DEPENDENCY_ERROR_CODES: ReadonlySet<BrokerErrorCode> = new Set<BrokerErrorCode>([
  'caller_keys_unavailable',
  'entra_credential_rejected',
  'entra_credential_expired',
  'entra_configuration',
  'entra_throttled',
  'entra_transient',
  'entra_timeout',
  'entra_malformed_response',
  'keyvault_forbidden',
  'keyvault_not_found',
  'keyvault_disabled',
  'keyvault_throttled',
  'keyvault_transient',
  'keyvault_timeout',
  'credential_invalid',
  'token_lifetime_too_short',
]);
