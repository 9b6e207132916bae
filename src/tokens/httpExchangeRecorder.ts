import type { TokenCredentialOptions } from '@azure/identity';

/** An `additionalPolicies` entry of the Azure SDK clients (core-rest-pipeline), derived to avoid a direct dependency. */
export type AdditionalPolicy = NonNullable<TokenCredentialOptions['additionalPolicies']>[number];
type PipelinePolicy = AdditionalPolicy['policy'];
type PipelineRequest = Parameters<PipelinePolicy['sendRequest']>[0];

/** What one HTTP exchange looked like on the wire: status and headers, never bodies or credentials. */
export interface HttpExchange {
  readonly method: string;
  /** URL path only (no query string, no host). */
  readonly path: string;
  /** Undefined when no response arrived (network or TLS failure, abort). */
  readonly status: number | undefined;
  readonly retryAfter: string | undefined;
  readonly contentType: string | undefined;
  /** `error` of an OAuth/Key Vault JSON error body (a short code such as `invalid_client`). */
  readonly upstreamError: string | undefined;
  /** First entry of Entra's `error_codes`, when the body had it. */
  readonly aadsts: number | undefined;
  readonly correlationId: string | undefined;
  readonly traceId: string | undefined;
  /** Whether a 2xx body was a parseable JSON object. */
  readonly jsonBody: boolean;
  /** Network error code (`ECONNREFUSED`, `ECONNRESET`, a TLS code…) when the request failed. */
  readonly networkErrorCode: string | undefined;
  /**
   * For a 2xx JSON body with an `access_token`: whether `expires_in` is a positive whole number.
   * MSAL silently turns a bad `expires_in` into 0, so this is the only place it can be seen.
   */
  readonly expiresInValid: boolean | undefined;
}

const SAFE_CODE = /^[A-Za-z0-9_.-]{1,64}$/;

/**
 * A pipeline policy that records every exchange of one SDK client (or one attempt) and can cancel
 * its in-flight requests.
 *
 * Why: MSAL swallows the HTTP status, `Retry-After` and network error codes of the token endpoint
 * into a generic message (and never passes our abort signal down), so the broker watches the wire
 * itself to classify failures, and aborts the request when its own deadline fires so that a hung
 * socket is not left open.
 */
export class HttpExchangeRecorder {
  readonly exchanges: HttpExchange[] = [];
  private readonly controller = new AbortController();

  /** Placed per retry so each real request is seen. */
  readonly policy: AdditionalPolicy = {
    position: 'perRetry',
    policy: {
      name: 'brokerHttpExchangeRecorder',
      sendRequest: async (request, next) => {
        if (this.controller.signal.aborted) throw abortError();
        request.abortSignal = combineSignals(request.abortSignal, this.controller.signal);
        const method = request.method;
        const path = safePath(request);
        try {
          const response = await next(request);
          this.exchanges.push(
            describeResponse(
              method,
              path,
              response.status,
              response.headers.get.bind(response.headers),
              response.bodyAsText,
            ),
          );
          return response;
        } catch (error) {
          const withCode = error as { code?: unknown; statusCode?: unknown };
          const code = typeof withCode.code === 'string' && SAFE_CODE.test(withCode.code) ? withCode.code : undefined;
          const status = typeof withCode.statusCode === 'number' ? withCode.statusCode : undefined;
          this.exchanges.push({
            method,
            path,
            status,
            retryAfter: undefined,
            contentType: undefined,
            upstreamError: undefined,
            aadsts: undefined,
            correlationId: undefined,
            traceId: undefined,
            jsonBody: false,
            networkErrorCode: status === undefined ? (code ?? 'network_error') : undefined,
            expiresInValid: undefined,
          });
          throw error;
        }
      },
    },
  };

  /** Cancels the requests still in flight (and any later one through this policy). */
  abort(): void {
    this.controller.abort();
  }

  /** The last exchange whose path ends with `pathSuffix` (e.g. `/oauth2/v2.0/token`). */
  last(pathSuffix?: string): HttpExchange | undefined {
    for (let i = this.exchanges.length - 1; i >= 0; i -= 1) {
      const exchange = this.exchanges[i];
      if (exchange && (pathSuffix === undefined || exchange.path.endsWith(pathSuffix))) return exchange;
    }
    return undefined;
  }
}

function describeResponse(
  method: string,
  path: string,
  status: number,
  header: (name: string) => string | undefined,
  bodyAsText: string | null | undefined,
): HttpExchange {
  const contentType = header('content-type');
  let body: Record<string, unknown> | undefined;
  if (typeof bodyAsText === 'string' && bodyAsText.length > 0 && bodyAsText.length < 1_000_000) {
    try {
      const parsed: unknown = JSON.parse(bodyAsText);
      if (parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed))
        body = parsed as Record<string, unknown>;
    } catch {
      body = undefined;
    }
  }
  // Only short codes are kept; free text (error_description) is never recorded.
  const errorField = body?.error;
  let upstreamError: string | undefined;
  if (typeof errorField === 'string' && SAFE_CODE.test(errorField)) upstreamError = errorField;
  else if (errorField !== null && typeof errorField === 'object') {
    const nested = (errorField as { code?: unknown }).code;
    if (typeof nested === 'string' && SAFE_CODE.test(nested)) upstreamError = nested;
  }
  const codes = body?.error_codes;
  const first: unknown = Array.isArray(codes) ? codes[0] : undefined;
  return {
    method,
    path,
    status,
    retryAfter: header('retry-after'),
    contentType,
    upstreamError: status >= 400 ? upstreamError : undefined,
    aadsts: status >= 400 && typeof first === 'number' && Number.isInteger(first) ? first : undefined,
    correlationId: safeId(body?.correlation_id) ?? safeId(header('client-request-id')),
    traceId: safeId(body?.trace_id) ?? safeId(header('x-ms-request-id')),
    jsonBody: body !== undefined,
    networkErrorCode: undefined,
    expiresInValid:
      status >= 200 && status < 300 && body !== undefined && 'access_token' in body
        ? isPositiveWhole(body.expires_in)
        : undefined,
  };
}

function isPositiveWhole(value: unknown): boolean {
  if (typeof value === 'number') return Number.isInteger(value) && value > 0;
  return typeof value === 'string' && /^\d{1,9}$/.test(value) && Number(value) > 0;
}

function safeId(value: unknown): string | undefined {
  return typeof value === 'string' && /^[A-Za-z0-9-]{1,64}$/.test(value) ? value : undefined;
}

function safePath(request: PipelineRequest): string {
  try {
    return new URL(request.url).pathname;
  } catch {
    return '';
  }
}

function combineSignals(existing: PipelineRequest['abortSignal'], ours: AbortSignal): AbortSignal {
  if (existing === undefined) return ours;
  const controller = new AbortController();
  const forward = (): void => controller.abort();
  if (existing.aborted || ours.aborted) controller.abort();
  else {
    existing.addEventListener('abort', forward, { once: true });
    ours.addEventListener('abort', forward, { once: true });
  }
  return controller.signal;
}

function abortError(): Error {
  const error = new Error('The request was cancelled by the broker.');
  error.name = 'AbortError';
  return error;
}
