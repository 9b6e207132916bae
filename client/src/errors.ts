/**
 * The one error the client throws for a token it could not get (besides `AbortError` when the
 * caller's signal fires, and `TypeError` for invalid options). Callers `switch (error.code)`; the
 * message is for people. Nothing here ever holds a token: the broker's error descriptions never
 * quote a token, and anything that looks like one is masked all the same.
 */
import type { GetTokenOptions } from '@azure/core-auth';

/** The abort signal callers pass (a DOM `AbortSignal` or anything shaped like one). */
export type AbortSignalLike = NonNullable<GetTokenOptions['abortSignal']>;

/** What went wrong, from the workload's point of view. */
export type BrokerRequestErrorCode =
  /** The workload's own credential could not get a token for `brokerScope` (the broker was not called). */
  | 'caller_credential_failed'
  /** 401: the broker refused the workload's token; `likelyCause` says where to look. */
  | 'caller_token_rejected'
  /** 403: the workload is not allowed this scope (or its token is not app-only, or lacks the app role). */
  | 'forbidden'
  /** 400, 405, 413, 415: the request itself is wrong (a malformed scope, say). */
  | 'bad_request'
  /** 429: the workload's own rate limit at the broker; `retryAfterSeconds` says when to come back. */
  | 'throttled'
  /** 503 (or a gateway's 502/504): the broker cannot get a token right now. */
  | 'unavailable'
  /** 500 or any other status: a fault in the broker. */
  | 'server_error'
  /** A 200 that is not a token response (a proxy's page, say). */
  | 'invalid_response'
  /** No answer: connection refused or reset, DNS, TLS, or the per-attempt timeout. */
  | 'network_error';

/** Where a 401 most likely comes from. */
export type UnauthorizedCause =
  /** The token the workload's own credential got: expired, another tenant, not issued by Entra. */
  | 'caller_credential'
  /** `brokerScope` does not name the broker's API, so the token is for another audience. */
  | 'audience';

export interface BrokerRequestErrorDetails {
  /** HTTP status of the broker's answer; 0 when there was none. */
  status: number;
  /** The broker's RFC 6749 `error` (`invalid_token`, `slow_down`, ...). */
  error?: string;
  /** The broker's `error_description` (written by the broker, never quoting input). */
  error_description?: string;
  /** The broker's `Retry-After`, in seconds. */
  retryAfterSeconds?: number;
  /** For `caller_token_rejected`. */
  likelyCause?: UnauthorizedCause;
  /** The scope that was asked for. */
  scope: string;
  cause?: unknown;
}

const TOKEN_LIKE = /eyJ[A-Za-z0-9_-]{8,}(?:\.[A-Za-z0-9_-]*){0,2}/g;

/** Masks anything shaped like a JWT: an error text must never carry a token, whoever wrote it. */
export function maskTokens(text: string): string {
  return text.replace(TOKEN_LIKE, '[token]');
}

export class BrokerRequestError extends Error {
  override readonly name = 'BrokerRequestError';
  readonly code: BrokerRequestErrorCode;
  readonly status: number;
  readonly error: string | undefined;
  readonly error_description: string | undefined;
  readonly retryAfterSeconds: number | undefined;
  readonly likelyCause: UnauthorizedCause | undefined;
  readonly scope: string;

  constructor(code: BrokerRequestErrorCode, message: string, details: BrokerRequestErrorDetails) {
    super(maskTokens(message), details.cause === undefined ? undefined : { cause: details.cause });
    this.code = code;
    this.status = details.status;
    this.error = details.error;
    this.error_description =
      details.error_description === undefined ? undefined : maskTokens(details.error_description);
    this.retryAfterSeconds = details.retryAfterSeconds;
    this.likelyCause = details.likelyCause;
    this.scope = details.scope;
  }
}

/** The error a fired abort signal stands for (its reason when that is an Error, as `fetch` does). */
export function abortError(signal: AbortSignalLike): Error {
  const reason = (signal as { reason?: unknown }).reason;
  if (reason instanceof Error) return reason;
  const error = new Error('The operation was aborted.');
  error.name = 'AbortError';
  return error;
}
