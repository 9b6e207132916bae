import type { AlertKind } from './alert';
import { DEFAULT_RETRY_AFTER_SECONDS } from './retryAfter';

/** The RFC 6749 §5.2 `error` values the contract allows (docs/openapi.yaml). */
export type OAuthErrorCode =
  'invalid_request' | 'invalid_token' | 'insufficient_scope' | 'slow_down' | 'temporarily_unavailable' | 'server_error';

/** What callers get for a code (`http/httpResponses.ts` builds the response from it). */
export interface HttpErrorSpec {
  readonly status: number;
  readonly error: OAuthErrorCode;
  /**
   * A fixed text, or `null` for the error's own message (which the broker wrote and which never
   * quotes caller input). Failures of dependencies and bugs get a fixed text: their messages may
   * carry details callers have no business seeing.
   */
  readonly description: string | null;
  /** The one header the status needs besides the headers every response carries. */
  readonly header:
    | { readonly name: 'WWW-Authenticate'; readonly value: string }
    | { readonly name: 'Retry-After'; readonly defaultSeconds: number }
    | { readonly name: 'Allow' }
    | null;
}

/** The alert a failed token acquisition raises. */
export type FailureAlertSpec = AlertKind & {
  /** Written for the operator: what failed and what to check. */
  readonly message: string;
  /** Whether the alert names the credential version in use (Key Vault failures have none worth naming). */
  readonly aboutCredential: boolean;
};

/** Everything the broker needs to know about one error code. Every field is required on purpose. */
export interface ErrorSpec {
  readonly http: HttpErrorSpec;
  /**
   * `request`: the caller's own doing; `transient`: may pass by itself (an outage, throttling);
   * `configuration`: needs a person (a setting, a role assignment, the credential); `bug`.
   */
  readonly nature: 'request' | 'transient' | 'configuration' | 'bug';
  /**
   * What an acquisition does after a request to Entra failed with it: `backoff` asks again after
   * a jittered pause; `pause` stops asking Entra for every scope until `Retry-After` has passed
   * (Entra throttles the application, not one scope); `reload` reads the latest credential version
   * from Key Vault once and asks again when it differs; `none` ends the acquisition.
   */
  readonly retry: 'backoff' | 'pause' | 'reload' | 'none';
  /**
   * How long a failed acquisition is remembered (no request for that scope meanwhile; callers are
   * told the rest of it as `Retry-After`); `whileVersionLoaded`: only as long as the credential
   * version that failed is still the one loaded. `null`: not remembered, the next caller tries again.
   */
  readonly remember: { readonly ms: number; readonly whileVersionLoaded: boolean } | null;
  /** Whether a credential already loaded stays in use when reading the credential fails with it. */
  readonly keepsLoadedCredential: boolean;
  /** The alert a failed acquisition raises; `null` when retries and health cover it (an alert would be noise). */
  readonly alert: FailureAlertSpec | null;
}

/** Configuration failures (invalid scope, unknown tenant or app, too-short token lifetime) are not retried for this long. */
export const CONFIGURATION_FAILURE_MEMORY_MS = 60_000;
/** A credential Entra refused (7000215 / 7000222) is not tried again for this long, unless a new version is loaded. */
export const CREDENTIAL_FAILURE_MEMORY_MS = 30_000;
/** Key Vault refusals (403, 404, disabled, unusable value) are not re-read for this long. */
export const KEY_VAULT_FAILURE_MEMORY_MS = 30_000;

/** What a caller sees when no token can be had, whatever the cause (also a broker whose settings do not parse). */
export const UNAVAILABLE_HTTP: HttpErrorSpec = {
  status: 503,
  error: 'temporarily_unavailable',
  description: 'No token can be obtained right now; try again later.',
  header: { name: 'Retry-After', defaultSeconds: DEFAULT_RETRY_AFTER_SECONDS },
};
/** The whole description of a 500: a bug is never described to callers (the log has the stack). */
export const SERVER_ERROR_DESCRIPTION = 'The broker failed unexpectedly.';

const BUG_HTTP: HttpErrorSpec = {
  status: 500,
  error: 'server_error',
  description: SERVER_ERROR_DESCRIPTION,
  header: null,
};

/** A refusal of the caller's request: its own message, no effect on acquisitions. */
function requestError(status: number, error: OAuthErrorCode, header: HttpErrorSpec['header'] = null): ErrorSpec {
  return {
    http: { status, error, description: null, header },
    nature: 'request',
    retry: 'none',
    remember: null,
    keepsLoadedCredential: false,
    alert: null,
  };
}

/** A dependency failed: 503 with `Retry-After` and a fixed text; the rest must be spelled out. */
function unavailable(spec: Omit<ErrorSpec, 'http'>): ErrorSpec {
  return { http: UNAVAILABLE_HTTP, ...spec };
}

const ENTRA_CONFIGURATION_ALERT: FailureAlertSpec = {
  event: 'EntraConfigurationError',
  severity: 'error',
  message: 'Entra refused the token request as misconfigured (tenant, app registration or scope).',
  aboutCredential: true,
};
const KEY_VAULT_REFUSED_ALERT: FailureAlertSpec = {
  event: 'KeyVaultAccessFailed',
  severity: 'error',
  message: 'The client credential could not be read from Key Vault, or cannot be used.',
  aboutCredential: false,
};
const KEY_VAULT_UNAVAILABLE_ALERT: FailureAlertSpec = {
  event: 'KeyVaultAccessFailed',
  severity: 'warning',
  message: 'Key Vault did not answer the read of the client credential.',
  aboutCredential: false,
};

const KEY_VAULT_REFUSED = {
  nature: 'configuration',
  retry: 'none',
  remember: { ms: KEY_VAULT_FAILURE_MEMORY_MS, whileVersionLoaded: false },
  keepsLoadedCredential: true,
  alert: KEY_VAULT_REFUSED_ALERT,
} as const;
const KEY_VAULT_UNAVAILABLE = {
  nature: 'transient',
  retry: 'none',
  remember: null,
  keepsLoadedCredential: true,
  alert: KEY_VAULT_UNAVAILABLE_ALERT,
} as const;
const ENTRA_TRANSIENT = {
  nature: 'transient',
  retry: 'backoff',
  remember: null,
  keepsLoadedCredential: false,
  alert: null,
} as const;

/**
 * The one error table: one entry per code the broker knows. The code union is read from its keys,
 * so a new code exists only with a complete entry.
 */
const ERROR_TABLE = {
  // configuration, found at start (the app does not load)
  config_invalid: {
    http: BUG_HTTP,
    nature: 'configuration',
    retry: 'none',
    remember: null,
    keepsLoadedCredential: false,
    alert: null,
  },
  // the caller's request (4xx)
  request_invalid: requestError(400, 'invalid_request'),
  method_not_allowed: requestError(405, 'invalid_request', { name: 'Allow' }),
  payload_too_large: requestError(413, 'invalid_request'),
  unsupported_media_type: requestError(415, 'invalid_request'),
  // RFC 6750 §3.1: no error code in the challenge when the request carried no token at all.
  caller_token_missing: requestError(401, 'invalid_token', { name: 'WWW-Authenticate', value: 'Bearer' }),
  caller_token_invalid: requestError(401, 'invalid_token', {
    name: 'WWW-Authenticate',
    value: 'Bearer error="invalid_token"',
  }),
  caller_forbidden: requestError(403, 'insufficient_scope', {
    name: 'WWW-Authenticate',
    value: 'Bearer error="insufficient_scope"',
  }),
  caller_rate_limited: requestError(429, 'slow_down', { name: 'Retry-After', defaultSeconds: 1 }),
  // dependencies (503)
  caller_keys_unavailable: unavailable({ ...ENTRA_TRANSIENT, retry: 'none' }),
  entra_credential_rejected: unavailable({
    nature: 'configuration',
    retry: 'reload',
    remember: { ms: CREDENTIAL_FAILURE_MEMORY_MS, whileVersionLoaded: true },
    keepsLoadedCredential: false,
    alert: {
      event: 'CredentialRejected',
      severity: 'error',
      message: 'Entra rejects the client credential, and Key Vault has no other version that works.',
      aboutCredential: true,
    },
  }),
  entra_credential_expired: unavailable({
    nature: 'configuration',
    retry: 'reload',
    remember: { ms: CREDENTIAL_FAILURE_MEMORY_MS, whileVersionLoaded: true },
    keepsLoadedCredential: false,
    alert: {
      event: 'CredentialExpired',
      severity: 'error',
      message: 'Entra reports the client credential as expired, and Key Vault has no newer version.',
      aboutCredential: true,
    },
  }),
  entra_configuration: unavailable({
    nature: 'configuration',
    retry: 'none',
    remember: { ms: CONFIGURATION_FAILURE_MEMORY_MS, whileVersionLoaded: false },
    keepsLoadedCredential: false,
    alert: ENTRA_CONFIGURATION_ALERT,
  }),
  entra_throttled: unavailable({ ...ENTRA_TRANSIENT, retry: 'pause' }),
  entra_transient: unavailable(ENTRA_TRANSIENT),
  entra_timeout: unavailable(ENTRA_TRANSIENT),
  entra_malformed_response: unavailable(ENTRA_TRANSIENT),
  managed_identity_unavailable: unavailable({
    nature: 'configuration',
    retry: 'none',
    remember: { ms: CONFIGURATION_FAILURE_MEMORY_MS, whileVersionLoaded: false },
    keepsLoadedCredential: true,
    alert: {
      event: 'ManagedIdentityFailed',
      severity: 'error',
      message:
        "The managed identity endpoint refused to issue a token: check that the identity is assigned to the Function App and that AZURE_CLIENT_ID holds that identity's client ID.",
      aboutCredential: false,
    },
  }),
  keyvault_forbidden: unavailable(KEY_VAULT_REFUSED),
  keyvault_not_found: unavailable(KEY_VAULT_REFUSED),
  // A version Key Vault reports as disabled must stop being used, even if it is loaded.
  keyvault_disabled: unavailable({ ...KEY_VAULT_REFUSED, keepsLoadedCredential: false }),
  keyvault_throttled: unavailable(KEY_VAULT_UNAVAILABLE),
  keyvault_transient: unavailable(KEY_VAULT_UNAVAILABLE),
  keyvault_timeout: unavailable(KEY_VAULT_UNAVAILABLE),
  // The value read cannot be used at all (an unreadable certificate PEM): reading it again gives the same.
  credential_invalid: unavailable({ ...KEY_VAULT_REFUSED, keepsLoadedCredential: false }),
  token_lifetime_too_short: unavailable({
    nature: 'configuration',
    retry: 'none',
    remember: { ms: CONFIGURATION_FAILURE_MEMORY_MS, whileVersionLoaded: false },
    keepsLoadedCredential: false,
    alert: {
      ...ENTRA_CONFIGURATION_ALERT,
      message: 'Entra issues tokens shorter-lived than TOKEN_MIN_LIFETIME_SECONDS.',
    },
  }),
  // anything else: a bug
  internal: { http: BUG_HTTP, nature: 'bug', retry: 'none', remember: null, keepsLoadedCredential: false, alert: null },
} satisfies Record<string, ErrorSpec>;

/**
 * Every failure the broker knows about has a fixed code from this closed union, so callers
 * `switch (err.code)` and never parse messages.
 */
export type BrokerErrorCode = keyof typeof ERROR_TABLE;

/** The table entry of `code`: how callers see it, how acquisitions treat it, what it alerts. */
export function errorSpec(code: BrokerErrorCode): ErrorSpec {
  return ERROR_TABLE[code];
}

/** Codes whose failures may pass by themselves (outages, throttling), as opposed to needing a person. */
export function isTransient(code: BrokerErrorCode): boolean {
  return ERROR_TABLE[code].nature === 'transient';
}

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

/**
 * `error` as a BrokerError: unexpected throws (bugs, a misbehaving fake) become `internal`, with the
 * original kept as `cause` for the log and never shown to callers.
 */
export function toBrokerError(error: unknown, message: string): BrokerError {
  if (isBrokerError(error)) return error;
  return new BrokerError('internal', message, { cause: error });
}
