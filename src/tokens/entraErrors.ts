import { summarizeUpstreamError } from '../platform/redact';
import { BrokerError, type BrokerErrorCode } from '../contract/errors';
import { DEFAULT_RETRY_AFTER_SECONDS, DEFAULT_THROTTLE_SECONDS, parseRetryAfterSeconds } from '../contract/retryAfter';
import { describeManagedIdentityFailure, managedIdentityRefusedMessage } from '../credentials/managedIdentity';

/** Entra's answer to one token request, as the broker's network client read it off the wire. */
export interface TokenEndpointAnswer {
  readonly status: number;
  /** The `Retry-After` header, if any. */
  readonly retryAfter: string | undefined;
  /** The body when it was a JSON object; undefined for HTML, plain text or broken JSON. */
  readonly body: Readonly<Record<string, unknown>> | undefined;
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
 * A federated credential that does not match the managed identity's token: no matching record
 * (70021), the assertion's issuer or subject (700021), or the federated credential's issuer
 * (700211), audience (700212) or subject (700213). Entra sends most of them as 401 `invalid_client`,
 * yet the managed identity is fine and re-reading Key Vault cannot help: the app registration's
 * federated credential (or ENTRA_TOKEN_EXCHANGE_AUDIENCE) is wrong.
 */
const FEDERATED_MISMATCH = new Set([70021, 700021, 700211, 700212, 700213]);
/** The 7002138… family: further federated-credential match failures, numbered under that prefix. */
const FEDERATED_MISMATCH_PREFIX = '7002138';
/**
 * Codes that retrying cannot fix: wrong scope/resource (70011, 1002012, 500011), unknown or disabled
 * app (700016, 7000112), unknown or malformed tenant (90002, 900023), assertion outside its time
 * range (700024), malformed request (90014, 900144, 70003).
 */
const CONFIGURATION = new Set([70011, 1002012, 500011, 700016, 7000112, 90002, 900023, 700024, 90014, 900144, 70003]);
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
const TRANSIENT_ERRORS = new Set(['temporarily_unavailable', 'server_error']);
const UPSTREAM_CODE = /^[A-Za-z0-9_.-]{1,64}$/;
const UPSTREAM_ID = /^[A-Za-z0-9-]{1,64}$/;

/** Whether an AADSTS code says the federated credential does not match the assertion. */
export function isFederatedMismatch(aadsts: number): boolean {
  return FEDERATED_MISMATCH.has(aadsts) || String(aadsts).startsWith(FEDERATED_MISMATCH_PREFIX);
}

/**
 * Reads Entra's answer to a token request: undefined when it is a usable token response, otherwise
 * the BrokerError it means. Pure; reads only structured parts: the status, `Retry-After`, and the
 * OAuth error fields `error`, `error_codes`, `correlation_id`, `trace_id`. The one exception is
 * AADSTS700027, which Entra uses both for an unknown and for an expired certificate; only its
 * `error_description` says "expired", and an expired certificate must raise the same alarm as an
 * expired secret. Upstream text is never copied into the result.
 */
export function classifyTokenEndpointAnswer(answer: TokenEndpointAnswer, nowMs: number): BrokerError | undefined {
  const { status, body } = answer;
  if (status >= 200 && status < 300) return classifySuccess(status, body);

  const firstCode: unknown = Array.isArray(body?.error_codes) ? body.error_codes[0] : undefined;
  const aadsts = typeof firstCode === 'number' && Number.isInteger(firstCode) ? firstCode : undefined;
  const upstreamError = safe(body?.error, UPSTREAM_CODE);
  const aadstsLabel = aadsts === undefined ? '' : ` (AADSTS${aadsts})`;
  const make = (code: BrokerErrorCode, message: string, retryAfterSeconds?: number): BrokerError =>
    new BrokerError(code, message, {
      upstreamStatus: status,
      upstreamError,
      aadsts,
      correlationId: safe(body?.correlation_id, UPSTREAM_ID),
      traceId: safe(body?.trace_id, UPSTREAM_ID),
      retryAfterSeconds,
    });
  const misconfigured = (): BrokerError =>
    make(
      'entra_configuration',
      `Entra refused the token request: tenant, app registration or scope is misconfigured${aadstsLabel}.`,
    );
  const rejected = (): BrokerError =>
    make('entra_credential_rejected', `Entra rejected the broker's client credential${aadstsLabel}.`);

  if (status === 429) {
    // Entra's 429 is plain text; only the header says how long to wait.
    const seconds = parseRetryAfterSeconds(answer.retryAfter, nowMs, { defaultSeconds: DEFAULT_THROTTLE_SECONDS });
    return make('entra_throttled', `Entra is throttling token requests; retry after ${seconds} s.`, seconds);
  }
  if (aadsts !== undefined) {
    if (isFederatedMismatch(aadsts)) {
      return make(
        'entra_configuration',
        `Entra found no federated credential on the app registration matching the managed identity's token${aadstsLabel}.`,
      );
    }
    const expired = CREDENTIAL_EXPIRED.has(aadsts) || saysCertificateExpired(aadsts, body?.error_description);
    if (expired) {
      return make('entra_credential_expired', `Entra says the broker's client credential has expired${aadstsLabel}.`);
    }
    if (CREDENTIAL_REJECTED.has(aadsts)) return rejected();
    if (TRANSIENT.has(aadsts)) {
      return make(
        'entra_transient',
        `Entra reported a transient failure${aadstsLabel}.`,
        optionalRetryAfter(answer.retryAfter, nowMs),
      );
    }
  }
  if (status >= 500) {
    return make('entra_transient', `Entra answered HTTP ${status}.`, optionalRetryAfter(answer.retryAfter, nowMs));
  }
  if (aadsts !== undefined && CONFIGURATION.has(aadsts)) return misconfigured();
  if (upstreamError === 'invalid_client') return rejected();
  if (upstreamError !== undefined && CONFIGURATION_ERRORS.has(upstreamError)) return misconfigured();
  if (upstreamError !== undefined && TRANSIENT_ERRORS.has(upstreamError)) {
    return make('entra_transient', `Entra reported a transient failure${aadstsLabel}.`);
  }
  if (status === 408) return make('entra_transient', 'Entra answered HTTP 408.');
  if (status >= 400)
    return make('entra_configuration', `Entra refused the token request with HTTP ${status}${aadstsLabel}.`);
  // 1xx/3xx: redirects are not followed, and nothing else belongs here.
  return make('entra_malformed_response', `Entra answered the token request with HTTP ${status}.`);
}

function classifySuccess(status: number, body: TokenEndpointAnswer['body']): BrokerError | undefined {
  const problem =
    body === undefined
      ? 'a body that is not a JSON object'
      : typeof body.access_token !== 'string' || body.access_token === ''
        ? 'no access token'
        : !isPositiveWhole(body.expires_in)
          ? 'an unusable expires_in'
          : undefined;
  if (problem === undefined) return undefined;
  return new BrokerError('entra_malformed_response', `Entra answered the token request with ${problem}.`, {
    upstreamStatus: status,
  });
}

/**
 * A request that got no answer: refused connection, reset, TLS failure, DNS. Node's fetch puts the
 * system error code in `cause.code`; node:https puts it in `code`.
 */
export function classifyTransportFailure(error: unknown, what: string): BrokerError {
  const code = transportErrorCode(error) ?? 'network_error';
  return new BrokerError('entra_transient', `${what}: Entra could not be reached (${code}).`, {
    cause: summarizeUpstreamError(error),
    upstreamError: code,
  });
}

/** The system error code (`ECONNRESET`, a TLS code…) of a request that got no answer, if it has one. */
export function transportErrorCode(error: unknown): string | undefined {
  const e = error as { code?: unknown; cause?: { code?: unknown } } | null;
  return safe(e?.code, UPSTREAM_CODE) ?? safe(e?.cause?.code, UPSTREAM_CODE);
}

/**
 * A failed OpenID metadata read: a 4xx (other than 408/429) means the tenant or authority host is
 * wrong; anything else may pass.
 */
export function classifyMetadataAnswer(status: number): BrokerError {
  if (status >= 400 && status < 500 && status !== 408 && status !== 429) {
    return new BrokerError(
      'entra_configuration',
      `Entra's OpenID metadata for the tenant is unavailable (HTTP ${status}); check the tenant ID and authority host.`,
      { upstreamStatus: status },
    );
  }
  return new BrokerError('entra_transient', `Entra's OpenID metadata could not be fetched (HTTP ${status}).`, {
    upstreamStatus: status,
  });
}

/**
 * The managed identity token used as the federated assertion could not be obtained: refused (the
 * identity is not assigned, or AZURE_CLIENT_ID is wrong) → managed_identity_unavailable; anything
 * else (5xx, unreachable) → entra_transient.
 */
export function classifyAssertionFailure(error: unknown): BrokerError {
  if (error instanceof BrokerError) return error;
  const cause = summarizeUpstreamError(error);
  const identity = describeManagedIdentityFailure(error);
  const what = 'The federated client assertion';
  if (identity?.refused === true) {
    return new BrokerError('managed_identity_unavailable', managedIdentityRefusedMessage(what, identity.status), {
      cause,
      upstreamStatus: identity.status,
    });
  }
  return new BrokerError(
    'entra_transient',
    `${what} (the managed identity's token) could not be obtained${identity?.status === undefined ? '' : ` (HTTP ${identity.status})`}.`,
    { cause, upstreamStatus: identity?.status, upstreamError: 'managed_identity_unavailable' },
  );
}

/**
 * What msal-node threw when our network client had nothing to say about it (see entraHttpClient.ts),
 * by MSAL's structured `errorCode`: the authority metadata could not be resolved, the client
 * configuration was refused, or something unforeseen.
 */
export function classifyMsalError(error: unknown, metadataFailure: BrokerError | undefined): BrokerError {
  if (error instanceof BrokerError) return error;
  const e = error as { name?: unknown; errorCode?: unknown } | null;
  const cause = summarizeUpstreamError(error);
  const errorCode = safe(e?.errorCode, UPSTREAM_CODE);
  if (errorCode === 'endpoints_resolution_error' || errorCode === 'untrusted_authority') {
    return (
      metadataFailure ??
      new BrokerError('entra_transient', "Entra's OpenID metadata could not be used.", {
        cause,
        upstreamError: errorCode,
      })
    );
  }
  if (e?.name === 'ClientConfigurationError') {
    return new BrokerError('entra_configuration', 'msal-node refused the Entra client configuration.', {
      cause,
      upstreamError: errorCode,
    });
  }
  return new BrokerError('entra_transient', 'The token request to Entra failed for an unrecognised reason.', {
    cause,
    upstreamError: errorCode,
  });
}

function saysCertificateExpired(aadsts: number, description: unknown): boolean {
  return aadsts === 700027 && typeof description === 'string' && /AADSTS700027:[^\n]*\bexpired\b/i.test(description);
}

function optionalRetryAfter(header: string | undefined, nowMs: number): number | undefined {
  return header === undefined
    ? undefined
    : parseRetryAfterSeconds(header, nowMs, { defaultSeconds: DEFAULT_RETRY_AFTER_SECONDS });
}

function isPositiveWhole(value: unknown): boolean {
  if (typeof value === 'number') return Number.isInteger(value) && value > 0;
  return typeof value === 'string' && /^\d{1,9}$/.test(value) && Number(value) > 0;
}

function safe(value: unknown, pattern: RegExp): string | undefined {
  return typeof value === 'string' && pattern.test(value) ? value : undefined;
}
