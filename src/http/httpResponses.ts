import { BrokerError, type BrokerErrorCode, DEPENDENCY_ERROR_CODES } from '../contract/errors';
import { describeError, type Logger } from '../platform/logger';
import { boundedRetryAfterSeconds, DEFAULT_RETRY_AFTER_SECONDS } from '../contract/retryAfter';
import type { CoreHttpResponse } from './httpTypes';

/** The RFC 6749 §5.2 `error` values the contract allows (docs/openapi.yaml). */
export type OAuthErrorCode =
  'invalid_request' | 'invalid_token' | 'insufficient_scope' | 'slow_down' | 'temporarily_unavailable' | 'server_error';

/** What a failure looks like on the wire. `headers` never holds caller input. */
export interface HttpError {
  readonly status: number;
  readonly error: OAuthErrorCode;
  readonly description: string;
  readonly headers: Readonly<Record<string, string>>;
}

export interface ToHttpErrorOptions {
  /** Methods for the `Allow` header of a 405 (the token endpoint: GET, POST; health: GET). */
  readonly allowedMethods?: readonly string[];
  /** Where an unexpected error is logged (once, with its stack). */
  readonly logger?: Logger;
}

/**
 * Headers on every response of the broker, errors and 500s included (docs/openapi.yaml).
 * Frozen so that no code path can add a caller-controlled value to the shared object.
 */
export const BASE_RESPONSE_HEADERS: Readonly<Record<string, string>> = Object.freeze(baseResponseHeaders());

/**
 * A new mutable copy of BASE_RESPONSE_HEADERS. An object literal, not a spread of the frozen
 * object: copying a frozen object takes V8's slow path, ten times the cost on every response.
 */
export function baseResponseHeaders(): Record<string, string> {
  return {
    'Content-Type': 'application/json; charset=utf-8',
    'Cache-Control': 'no-store',
    Pragma: 'no-cache',
    'X-Content-Type-Options': 'nosniff',
  };
}

const WWW_AUTHENTICATE = 'WWW-Authenticate';
const DEFAULT_ALLOWED_METHODS = ['GET', 'POST'] as const;

/** Fixed descriptions for codes whose message could carry details a caller has no business seeing. */
const UNAVAILABLE_DESCRIPTION = 'No token can be obtained right now; try again later.';
const SERVER_ERROR_DESCRIPTION = 'The broker failed unexpectedly.';

/**
 * The one mapping from a failure to an HTTP error (house style: one function maps codes to
 * responses). BrokerError codes of the front door keep their own message, which the broker wrote
 * and which never quotes caller input; dependency failures get a fixed 503 text (never upstream
 * text); anything else is a bug: 500 `server_error`, logged once with its stack, never described.
 */
export function toHttpError(error: unknown, options: ToHttpErrorOptions = {}): HttpError {
  if (error instanceof BrokerError) {
    const mapped = mapBrokerError(error, options);
    if (mapped) return mapped;
  }
  options.logger?.error('UnexpectedError', { error: describeError(error) });
  return { status: 500, error: 'server_error', description: SERVER_ERROR_DESCRIPTION, headers: {} };
}

function mapBrokerError(error: BrokerError, options: ToHttpErrorOptions): HttpError | undefined {
  const code: BrokerErrorCode = error.code;
  const description = safeDescription(error.message);
  switch (code) {
    case 'request_invalid':
      return { status: 400, error: 'invalid_request', description, headers: {} };
    case 'method_not_allowed':
      return {
        status: 405,
        error: 'invalid_request',
        description,
        headers: { Allow: (options.allowedMethods ?? DEFAULT_ALLOWED_METHODS).join(', ') },
      };
    case 'payload_too_large':
      return { status: 413, error: 'invalid_request', description, headers: {} };
    case 'unsupported_media_type':
      return { status: 415, error: 'invalid_request', description, headers: {} };
    case 'caller_token_missing':
      // RFC 6750 §3.1: no error code when the request carried no token at all.
      return { status: 401, error: 'invalid_token', description, headers: { [WWW_AUTHENTICATE]: 'Bearer' } };
    case 'caller_token_invalid':
      return {
        status: 401,
        error: 'invalid_token',
        description,
        headers: { [WWW_AUTHENTICATE]: 'Bearer error="invalid_token"' },
      };
    case 'caller_forbidden':
      return {
        status: 403,
        error: 'insufficient_scope',
        description,
        headers: { [WWW_AUTHENTICATE]: 'Bearer error="insufficient_scope"' },
      };
    case 'caller_rate_limited':
      return {
        status: 429,
        error: 'slow_down',
        description,
        headers: { 'Retry-After': String(boundedRetryAfterSeconds(error.retryAfterSeconds, 1)) },
      };
    case 'config_invalid':
    case 'internal':
      return undefined;
    default:
      if (!DEPENDENCY_ERROR_CODES.has(code)) return undefined;
      return {
        status: 503,
        error: 'temporarily_unavailable',
        description: UNAVAILABLE_DESCRIPTION,
        headers: {
          'Retry-After': String(boundedRetryAfterSeconds(error.retryAfterSeconds, DEFAULT_RETRY_AFTER_SECONDS)),
        },
      };
  }
}

/** Our messages are plain ASCII sentences; anything else (a future bug) is cut rather than sent. */
function safeDescription(message: string): string {
  const printable = message.replace(/[^\x20-\x7E]/g, '?');
  return printable.length <= 300 ? printable : `${printable.slice(0, 297)}...`;
}

/** A JSON response with the headers every broker response carries. */
export function jsonResponse(
  status: number,
  body: Readonly<Record<string, unknown>>,
  extraHeaders?: Readonly<Record<string, string>>,
): CoreHttpResponse {
  const headers = extraHeaders === undefined ? baseResponseHeaders() : { ...extraHeaders, ...BASE_RESPONSE_HEADERS };
  return { status, headers, body: JSON.stringify(body) };
}

/** The error response for `error` (see `toHttpError`). */
export function errorResponse(error: unknown, options: ToHttpErrorOptions = {}): CoreHttpResponse {
  const mapped = toHttpError(error, options);
  return jsonResponse(mapped.status, { error: mapped.error, error_description: mapped.description }, mapped.headers);
}

/**
 * 503 `temporarily_unavailable` with the fixed description (never the reason) and `Retry-After`:
 * what a caller gets when no token can be had, whatever the cause.
 */
export function unavailableResponse(retryAfterSeconds: number = DEFAULT_RETRY_AFTER_SECONDS): CoreHttpResponse {
  return jsonResponse(
    503,
    { error: 'temporarily_unavailable', error_description: UNAVAILABLE_DESCRIPTION },
    { 'Retry-After': String(boundedRetryAfterSeconds(retryAfterSeconds, DEFAULT_RETRY_AFTER_SECONDS)) },
  );
}

/** Last resort when building a response itself failed; a constant, so it cannot fail in turn. */
export function serverErrorResponse(): CoreHttpResponse {
  return {
    status: 500,
    headers: baseResponseHeaders(),
    body: JSON.stringify({ error: 'server_error', error_description: SERVER_ERROR_DESCRIPTION }),
  };
}
