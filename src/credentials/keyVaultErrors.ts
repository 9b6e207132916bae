import { summarizeUpstreamError } from '../platform/redact';
import { BrokerError } from '../contract/errors';
import { parseRetryAfterSeconds } from '../contract/retryAfter';

const SAFE_CODE = /^[A-Za-z0-9_.-]{1,64}$/;

/**
 * Turns what `SecretClient`/`CertificateClient` (or the managed identity inside them) threw into a
 * BrokerError with a fixed `keyvault_*` code. Pure. Upstream text is never copied; the cause is a
 * summary without it (a parse error would quote the response body, which may hold the secret).
 *
 * - 403 `SecretDisabled` (or a disabled certificate) → keyvault_disabled
 * - 401/403 otherwise (RBAC, firewall, token refused) → keyvault_forbidden
 * - 404 → keyvault_not_found
 * - 429 → keyvault_throttled with `retryAfterSeconds`
 * - 408, 5xx, other statuses, network and TLS errors, an unparseable answer → keyvault_transient
 * - the managed identity failing: 4xx from its endpoint → keyvault_forbidden, else keyvault_transient
 */
export function classifyKeyVaultError(error: unknown, nowMs: number, what: string): BrokerError {
  if (error instanceof BrokerError) return error;
  const e = (error ?? {}) as {
    name?: unknown;
    code?: unknown;
    statusCode?: unknown;
    details?: unknown;
    response?: { headers?: { get?: (name: string) => string | undefined }; bodyAsText?: unknown; parsedBody?: unknown };
  };
  const cause = summarizeUpstreamError(error);
  const name = typeof e.name === 'string' ? e.name : '';

  if (
    name === 'CredentialUnavailableError' ||
    name === 'AuthenticationError' ||
    name === 'AuthenticationRequiredError'
  ) {
    const status = typeof e.statusCode === 'number' ? e.statusCode : undefined;
    const refused = status !== undefined && status >= 400 && status < 500 && status !== 408 && status !== 429;
    return new BrokerError(
      refused ? 'keyvault_forbidden' : 'keyvault_transient',
      `${what}: the managed identity could not get a token for Key Vault${status === undefined ? '' : ` (HTTP ${status})`}.`,
      { cause, upstreamStatus: status, upstreamError: 'managed_identity_unavailable' },
    );
  }

  const status = typeof e.statusCode === 'number' ? e.statusCode : undefined;
  const codes = errorCodes(e);
  const upstreamError = codes.inner ?? codes.outer;
  const options = { cause, upstreamStatus: status, upstreamError };
  if (status === undefined) {
    const network = codes.outer ?? 'network_error';
    return new BrokerError('keyvault_transient', `${what}: Key Vault could not be reached (${network}).`, {
      ...options,
      upstreamError: network,
    });
  }
  if (codes.outer === 'SecretDisabled' || codes.inner === 'SecretDisabled' || codes.inner === 'CertificateDisabled') {
    return new BrokerError('keyvault_disabled', `${what}: the Key Vault object is disabled.`, options);
  }
  if (status === 401 || status === 403) {
    return new BrokerError('keyvault_forbidden', `${what}: Key Vault refused access (HTTP ${status}).`, options);
  }
  if (status === 404) {
    return new BrokerError('keyvault_not_found', `${what}: Key Vault has no such object (HTTP 404).`, options);
  }
  if (status === 429) {
    const header = e.response?.headers?.get?.('retry-after');
    const seconds = parseRetryAfterSeconds(header, nowMs);
    return new BrokerError('keyvault_throttled', `${what}: Key Vault is throttling; retry after ${seconds} s.`, {
      ...options,
      retryAfterSeconds: seconds,
    });
  }
  if (status >= 200 && status < 300) {
    return new BrokerError('keyvault_transient', `${what}: Key Vault answered with a response the broker cannot use.`, {
      ...options,
      upstreamError: 'malformed_response',
    });
  }
  const header = e.response?.headers?.get?.('retry-after');
  return new BrokerError('keyvault_transient', `${what}: Key Vault answered HTTP ${status}.`, {
    ...options,
    retryAfterSeconds: header === undefined ? undefined : parseRetryAfterSeconds(header, nowMs),
  });
}

/** Key Vault error bodies: `{"error":{"code":"Forbidden","message":"…","innererror":{"code":"SecretDisabled"}}}`. */
function errorCodes(e: {
  code?: unknown;
  details?: unknown;
  response?: { bodyAsText?: unknown; parsedBody?: unknown };
}): {
  outer: string | undefined;
  inner: string | undefined;
} {
  let outer = safe(e.code);
  let inner: string | undefined;
  const fromBody = (body: unknown): void => {
    if (body === null || typeof body !== 'object') return;
    const err = (body as { error?: unknown }).error;
    if (err === null || typeof err !== 'object') return;
    const record = err as { code?: unknown; innererror?: unknown; innerError?: unknown };
    outer ??= safe(record.code);
    const innerRecord = record.innererror ?? record.innerError;
    if (innerRecord !== null && typeof innerRecord === 'object')
      inner ??= safe((innerRecord as { code?: unknown }).code);
  };
  fromBody(e.details);
  fromBody(e.response?.parsedBody);
  if (typeof e.response?.bodyAsText === 'string' && e.response.bodyAsText.length < 100_000) {
    try {
      fromBody(JSON.parse(e.response.bodyAsText));
    } catch {
      // not JSON: no codes to find
    }
  }
  return { outer, inner };
}

function safe(value: unknown): string | undefined {
  return typeof value === 'string' && SAFE_CODE.test(value) ? value : undefined;
}
