import { summarizeUpstreamError } from '../platform/redact';
import { BrokerError, type BrokerErrorCode } from '../contract/errors';
import type { HttpExchange } from './httpExchangeRecorder';
import { DEFAULT_RETRY_AFTER_SECONDS, DEFAULT_THROTTLE_SECONDS, parseRetryAfterSeconds } from '../contract/retryAfter';

/** What the broker saw of one token acquisition besides the SDK's error. */
export interface EntraFailureContext {
  /** The last exchange with `/oauth2/v2.0/token`, if one happened. */
  readonly tokenExchange?: HttpExchange | undefined;
  /** The last exchange with the OpenID metadata document, if one happened. */
  readonly metadataExchange?: HttpExchange | undefined;
  /** Set when the federated assertion (the managed identity's token) could not be obtained. */
  readonly assertionFailure?: unknown;
  /** Injected clock, to turn a `Retry-After` date into seconds. */
  readonly nowMs: number;
}

/**
 * The credential itself was refused: a wrong or revoked secret (7000215), none sent (7000216,
 * 7000218), or a certificate the app registration does not (or no longer) hold (700027). These
 * make the engine re-read Key Vault once, so a rotation that removed the old credential from the
 * app at once is recovered by the newer version: certificate rotation is as safe as a secret's.
 */
const CREDENTIAL_REJECTED = new Set([7000215, 7000216, 7000218, 700027]);
const CREDENTIAL_EXPIRED = new Set([7000222]);
/**
 * Codes that retrying cannot fix: wrong scope/resource (70011, 1002012, 500011), unknown or disabled
 * app (700016, 7000112), unknown or malformed tenant (90002, 900023), assertion outside its time
 * range (700024), federated credential mismatch (70021), malformed request (90014, 900144, 70003).
 */
const CONFIGURATION = new Set([
  70011, 1002012, 500011, 700016, 7000112, 90002, 900023, 700024, 70021, 90014, 900144, 70003,
]);
/** Entra's own "try again" codes. */
const TRANSIENT = new Set([90033]);
const CONFIGURATION_ERRORS = new Set([
  'invalid_scope',
  'invalid_resource',
  'unauthorized_client',
  'invalid_request',
  'invalid_grant',
  'unsupported_grant_type',
  'invalid_tenant',
]);
const TRANSIENT_ERRORS = new Set(['temporarily_unavailable', 'server_error', 'network_error']);
const UPSTREAM_CODE = /^[A-Za-z0-9_.-]{1,64}$/;

interface Signals {
  status: number | undefined;
  upstreamError: string | undefined;
  aadsts: number | undefined;
  correlationId: string | undefined;
  traceId: string | undefined;
  networkErrorCode: string | undefined;
  msalCode: string | undefined;
  /** AADSTS700027 saying the certificate expired (Entra uses one code for unknown and expired certificates). */
  certificateExpired: boolean;
}

/**
 * Turns whatever an @azure/identity credential threw during one token request into a BrokerError
 * with a fixed code. Pure: no I/O, no clock reads beyond `context.nowMs`.
 *
 * Upstream free text (`error_description`, SDK messages) is read only to find codes (AADSTS
 * numbers, `invalid_client`), never copied into the result: messages are ours, and the cause is
 * a summary without upstream text.
 *
 * Sources, in order of trust: the wire (`context.tokenExchange`, recorded by our pipeline policy,
 * because MSAL drops the status and `Retry-After`), the SDK's structured `AuthenticationError`,
 * then codes found in MSAL's message (`AuthenticationRequiredError` carries them only there).
 */
export function classifyEntraError(error: unknown, context: EntraFailureContext): BrokerError {
  if (error instanceof BrokerError) return error;
  const signals = collectSignals(error, context.tokenExchange);
  const options = {
    cause: summarizeUpstreamError(error),
    upstreamStatus: signals.status,
    upstreamError: signals.upstreamError,
    aadsts: signals.aadsts,
    correlationId: signals.correlationId,
    traceId: signals.traceId,
  };
  const aadstsLabel = signals.aadsts === undefined ? '' : ` (AADSTS${signals.aadsts})`;
  const make = (code: BrokerErrorCode, message: string, retryAfterSeconds?: number): BrokerError =>
    new BrokerError(code, message, { ...options, retryAfterSeconds });

  if (context.assertionFailure !== undefined) {
    return new BrokerError(
      'entra_transient',
      'The managed identity token used as the federated client assertion could not be obtained.',
      { cause: summarizeUpstreamError(context.assertionFailure), upstreamError: 'managed_identity_unavailable' },
    );
  }

  const { aadsts, status, upstreamError } = signals;
  const retryAfterHeader = context.tokenExchange?.retryAfter;
  if (status === 429 || (signals.msalCode === '' && context.tokenExchange === undefined)) {
    // An MSAL error without a code and with no request on the wire is MSAL refusing locally after
    // an earlier 429/5xx on the same instance; it hides Retry-After, so the default applies.
    const seconds = parseRetryAfterSeconds(retryAfterHeader, context.nowMs, {
      defaultSeconds: DEFAULT_THROTTLE_SECONDS,
    });
    return make('entra_throttled', `Entra is throttling token requests; retry after ${seconds} s.`, seconds);
  }
  if (aadsts !== undefined && CREDENTIAL_REJECTED.has(aadsts) && !signals.certificateExpired) {
    return make('entra_credential_rejected', `Entra rejected the broker's client credential${aadstsLabel}.`);
  }
  if ((aadsts !== undefined && CREDENTIAL_EXPIRED.has(aadsts)) || signals.certificateExpired) {
    return make('entra_credential_expired', `Entra says the broker's client credential has expired${aadstsLabel}.`);
  }
  if (aadsts !== undefined && TRANSIENT.has(aadsts)) {
    return make(
      'entra_transient',
      `Entra reported a transient failure${aadstsLabel}.`,
      optionalRetryAfter(retryAfterHeader, context.nowMs),
    );
  }
  if (status !== undefined && status >= 500) {
    return make(
      'entra_transient',
      `Entra answered HTTP ${status}.`,
      optionalRetryAfter(retryAfterHeader, context.nowMs),
    );
  }
  if (signals.networkErrorCode !== undefined) {
    return make('entra_transient', `Entra could not be reached (${signals.networkErrorCode}).`);
  }
  if (aadsts !== undefined && CONFIGURATION.has(aadsts)) {
    return make(
      'entra_configuration',
      `Entra refused the token request: tenant, app registration or scope is misconfigured${aadstsLabel}.`,
    );
  }
  if (upstreamError === 'invalid_client') {
    return make('entra_credential_rejected', `Entra rejected the broker's client credential${aadstsLabel}.`);
  }
  if (upstreamError !== undefined && CONFIGURATION_ERRORS.has(upstreamError)) {
    return make(
      'entra_configuration',
      `Entra refused the token request: tenant, app registration or scope is misconfigured${aadstsLabel}.`,
    );
  }
  if (upstreamError !== undefined && TRANSIENT_ERRORS.has(upstreamError)) {
    return make('entra_transient', `Entra reported a transient failure${aadstsLabel}.`);
  }
  if (status !== undefined && status >= 200 && status < 300) {
    // Entra said OK but the SDK could not use the answer: HTML, truncated JSON, no access_token,
    // a bad expires_in.
    return make('entra_malformed_response', 'Entra answered the token request with a response the broker cannot use.');
  }
  if (status !== undefined && status >= 400) {
    return make('entra_configuration', `Entra refused the token request with HTTP ${status}${aadstsLabel}.`);
  }
  if (aadsts !== undefined) {
    return make('entra_configuration', `Entra refused the token request${aadstsLabel}.`);
  }
  if (signals.msalCode === 'endpoints_resolution_error') {
    return classifyMetadataFailure(context.metadataExchange, make);
  }
  if (signals.msalCode === 'network_error') {
    return make('entra_transient', 'Entra could not be reached.');
  }
  if (error instanceof SyntaxError) {
    return make('entra_malformed_response', 'Entra answered the token request with a response the broker cannot use.');
  }
  return make('entra_transient', 'The token request to Entra failed for an unrecognised reason.');
}

function classifyMetadataFailure(
  exchange: HttpExchange | undefined,
  make: (code: BrokerErrorCode, message: string) => BrokerError,
): BrokerError {
  const status = exchange?.status;
  if (status !== undefined && status >= 400 && status < 500 && status !== 408 && status !== 429) {
    return make(
      'entra_configuration',
      `Entra's OpenID metadata for the tenant is unavailable (HTTP ${status}); check the tenant ID and authority host.`,
    );
  }
  return make('entra_transient', "Entra's OpenID metadata could not be fetched.");
}

function optionalRetryAfter(header: string | undefined, nowMs: number): number | undefined {
  return header === undefined
    ? undefined
    : parseRetryAfterSeconds(header, nowMs, { defaultSeconds: DEFAULT_RETRY_AFTER_SECONDS });
}

function collectSignals(error: unknown, exchange: HttpExchange | undefined): Signals {
  const signals: Signals = {
    status: exchange?.status,
    upstreamError: exchange?.upstreamError,
    aadsts: exchange?.aadsts,
    correlationId: exchange?.correlationId,
    traceId: exchange?.traceId,
    networkErrorCode: exchange?.networkErrorCode,
    msalCode: undefined,
    certificateExpired: false,
  };
  if (error === null || typeof error !== 'object') return signals;
  const e = error as {
    name?: unknown;
    message?: unknown;
    statusCode?: unknown;
    code?: unknown;
    errorResponse?: {
      error?: unknown;
      errorDescription?: unknown;
      errorCodes?: unknown;
      correlationId?: unknown;
      traceId?: unknown;
    };
  };
  // @azure/identity AuthenticationError: structured.
  if (e.name === 'AuthenticationError' && e.errorResponse) {
    signals.status ??= typeof e.statusCode === 'number' ? e.statusCode : undefined;
    signals.upstreamError ??= safeCode(e.errorResponse.error);
    const codes = e.errorResponse.errorCodes;
    const first: unknown = Array.isArray(codes) ? codes[0] : undefined;
    signals.aadsts ??= typeof first === 'number' ? first : findAadsts(e.errorResponse.errorDescription);
    signals.correlationId ??= safeId(e.errorResponse.correlationId);
    signals.traceId ??= safeId(e.errorResponse.traceId);
    signals.certificateExpired = saysCertificateExpired(signals.aadsts, e.errorResponse.errorDescription);
    return signals;
  }
  // core-rest-pipeline RestError: a status, or a network/TLS code.
  if (e.name === 'RestError') {
    const status = typeof e.statusCode === 'number' ? e.statusCode : undefined;
    signals.status ??= status;
    if (status === undefined) signals.networkErrorCode ??= safeCode(e.code) ?? 'network_error';
    return signals;
  }
  // A bare Node network error (ECONNREFUSED, a TLS code).
  if (typeof e.code === 'string' && /^(E[A-Z]+|ERR_[A-Z_]+|[A-Z_]*CERT[A-Z_]*|UNABLE_TO_[A-Z_]+)$/.test(e.code)) {
    signals.networkErrorCode ??= e.code;
    return signals;
  }
  // AuthenticationRequiredError / CredentialUnavailableError / MSAL errors: codes only in the text.
  const message = typeof e.message === 'string' ? e.message : '';
  const prefix = /^([a-z][a-z0-9_]{1,63}):/.exec(message)?.[1];
  // MSAL's local refusal (after a 429/5xx on the same instance) has no code: an empty message, or
  // only the numeric error codes of the earlier answer before the colon.
  const refusal = message.trim() === '' || /^[\d ]*:/.test(message);
  signals.msalCode = prefix ?? (refusal ? '' : undefined);
  if (prefix !== undefined && prefix !== 'network_error' && prefix !== 'endpoints_resolution_error') {
    signals.upstreamError ??= prefix;
  }
  const listed = /Error\(s\): (\d{4,9})\b/.exec(message)?.[1];
  signals.aadsts ??= listed !== undefined ? Number(listed) : findAadsts(message);
  signals.correlationId ??= safeId(/Correlation ID: ([0-9a-fA-F-]{36})/.exec(message)?.[1]);
  signals.traceId ??= safeId(/Trace ID: ([0-9a-fA-F-]{36})/.exec(message)?.[1]);
  signals.certificateExpired = saysCertificateExpired(signals.aadsts, message);
  return signals;
}

/**
 * Entra answers AADSTS700027 both for a certificate it does not know (configuration) and for one
 * that expired ("...is expired on application"); only the text tells them apart, and an expired
 * certificate must raise the same "credential expired" alarm as an expired secret.
 */
function saysCertificateExpired(aadsts: number | undefined, text: unknown): boolean {
  return aadsts === 700027 && typeof text === 'string' && /AADSTS700027:[^\n]*\bexpired\b/i.test(text);
}

function findAadsts(text: unknown): number | undefined {
  if (typeof text !== 'string') return undefined;
  const match = /\bAADSTS(\d{4,9})\b/.exec(text);
  return match?.[1] === undefined ? undefined : Number(match[1]);
}

function safeCode(value: unknown): string | undefined {
  return typeof value === 'string' && UPSTREAM_CODE.test(value) ? value : undefined;
}

function safeId(value: unknown): string | undefined {
  return typeof value === 'string' && /^[A-Za-z0-9-]{1,64}$/.test(value) ? value : undefined;
}
