import {
  BrokerError,
  errorSpec,
  type HttpErrorSpec,
  type OAuthErrorCode,
  SERVER_ERROR_DESCRIPTION,
  UNAVAILABLE_HTTP,
} from '../contract/errors';
import { describeError, type Logger } from '../platform/logger';
import { boundedRetryAfterSeconds, DEFAULT_RETRY_AFTER_SECONDS } from '../contract/retryAfter';
import type { CoreHttpResponse } from './httpTypes';

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

const DEFAULT_ALLOWED_METHODS = ['GET', 'POST'] as const;

/**
 * The one mapping from a failure to an HTTP error (house style: one function maps codes to
 * responses), read from the error table (contract/errors.ts). A 500 is a bug by definition, whether
 * a BrokerError `internal` or anything that is not a BrokerError: bare `server_error`, logged once
 * with its stack, never described.
 */
export function toHttpError(error: unknown, options: ToHttpErrorOptions = {}): HttpError {
  if (error instanceof BrokerError) {
    const { http } = errorSpec(error.code);
    if (http.status !== 500) {
      return {
        status: http.status,
        error: http.error,
        description: http.description ?? safeDescription(error.message),
        headers: headerOf(http.header, error, options),
      };
    }
  }
  options.logger?.error('UnexpectedError', { error: describeError(error) });
  return { status: 500, error: 'server_error', description: SERVER_ERROR_DESCRIPTION, headers: {} };
}

function headerOf(
  header: HttpErrorSpec['header'],
  error: BrokerError,
  options: ToHttpErrorOptions,
): Record<string, string> {
  if (header === null) return {};
  switch (header.name) {
    case 'WWW-Authenticate':
      return { [header.name]: header.value };
    case 'Allow':
      return { [header.name]: (options.allowedMethods ?? DEFAULT_ALLOWED_METHODS).join(', ') };
    case 'Retry-After':
      return { [header.name]: String(boundedRetryAfterSeconds(error.retryAfterSeconds, header.defaultSeconds)) };
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
    UNAVAILABLE_HTTP.status,
    { error: UNAVAILABLE_HTTP.error, error_description: UNAVAILABLE_HTTP.description },
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
