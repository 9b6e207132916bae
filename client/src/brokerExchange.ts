/**
 * One exchange with the broker's `/api/token`: `sendTokenRequest` makes the HTTP call and returns
 * the raw response; `processTokenResponse` turns it into a token or a `BrokerRequestError`. Each is
 * tested on its own; neither retries (see retryPolicy.ts) or caches (see brokerCredential.ts).
 */
import { BrokerRequestError, type BrokerRequestErrorCode } from './errors';
import { explainUnauthorizedCause, likelyUnauthorizedCause } from './unauthorizedCause';

export type FetchFunction = (input: string, init: RequestInit) => Promise<Response>;

/** A token as the broker served it, with absolute times on the client's clock. */
export interface BrokerToken {
  accessToken: string;
  /** When the token expires (client clock, from `expires_in`). */
  expiresOnMs: number;
  /** When to come back for a fresh one (client clock, from `refresh_in`). */
  refreshAfterMs: number;
}

/** What `processTokenResponse` needs to know about the request it answers. */
export interface ExchangeContext {
  scope: string;
  brokerScope: string;
  /** The token the workload sent, to tell a 401's likely cause. */
  callerToken: string;
  /** Client clock when the request was sent: `expires_in` counts from then at the latest. */
  sentAtMs: number;
}

/** `POST tokenUrl` with the caller token and a form-encoded scope. */
export function sendTokenRequest(
  fetchFn: FetchFunction,
  tokenUrl: string,
  callerToken: string,
  scope: string,
  signal: AbortSignal,
): Promise<Response> {
  return fetchFn(tokenUrl, {
    method: 'POST',
    headers: {
      authorization: `Bearer ${callerToken}`,
      'content-type': 'application/x-www-form-urlencoded',
      accept: 'application/json',
    },
    body: new URLSearchParams({ scope }).toString(),
    signal,
    redirect: 'error',
  });
}

/**
 * Seconds from a `Retry-After` value: whole seconds or an HTTP date (RFC 9110 §10.2.3).
 * Undefined when absent or unreadable.
 */
export function parseRetryAfterSeconds(value: string | null, nowMs: number): number | undefined {
  if (value === null) return undefined;
  const trimmed = value.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed);
  const dateMs = Date.parse(trimmed);
  if (Number.isNaN(dateMs)) return undefined;
  return Math.max(0, Math.ceil((dateMs - nowMs) / 1000));
}

function codeOf(status: number): BrokerRequestErrorCode {
  if (status === 401) return 'caller_token_rejected';
  if (status === 403) return 'forbidden';
  if (status === 429) return 'throttled';
  if (status === 502 || status === 503 || status === 504) return 'unavailable';
  if (status >= 400 && status < 500) return 'bad_request';
  return 'server_error';
}

function stringField(body: unknown, name: string): string | undefined {
  const value = (body as Record<string, unknown> | null | undefined)?.[name];
  return typeof value === 'string' ? value : undefined;
}

function numberField(body: unknown, name: string): number | undefined {
  const value = (body as Record<string, unknown> | null | undefined)?.[name];
  return typeof value === 'number' && Number.isFinite(value) ? value : undefined;
}

async function readJson(response: Response): Promise<unknown> {
  try {
    return JSON.parse(await response.text()) as unknown;
  } catch {
    return undefined;
  }
}

/**
 * The token in a broker answer.
 * @throws BrokerRequestError with the code of the status (`caller_token_rejected`, `forbidden`,
 * `bad_request`, `throttled`, `unavailable`, `server_error`), or `invalid_response` for a 200 that
 * is not a token response.
 */
export async function processTokenResponse(
  response: Response,
  context: ExchangeContext,
  nowMs: number,
): Promise<BrokerToken> {
  const body = await readJson(response);
  const { scope } = context;
  if (response.status === 200) {
    const accessToken = stringField(body, 'access_token');
    const expiresIn = numberField(body, 'expires_in');
    const refreshIn = numberField(body, 'refresh_in');
    const tokenType = stringField(body, 'token_type');
    if (!accessToken || expiresIn === undefined || expiresIn <= 0 || tokenType?.toLowerCase() !== 'bearer') {
      throw new BrokerRequestError('invalid_response', `The broker's 200 for ${scope} is not a token response.`, {
        status: 200,
        scope,
      });
    }
    const expiresOnMs = context.sentAtMs + expiresIn * 1000;
    // refresh_in is the broker's jittered "come back after"; without it, half the lifetime.
    const refreshInSeconds = refreshIn !== undefined && refreshIn > 0 ? Math.min(refreshIn, expiresIn) : expiresIn / 2;
    return { accessToken, expiresOnMs, refreshAfterMs: context.sentAtMs + refreshInSeconds * 1000 };
  }
  const code = codeOf(response.status);
  const error = stringField(body, 'error');
  const description = stringField(body, 'error_description');
  const retryAfterSeconds = parseRetryAfterSeconds(response.headers.get('retry-after'), nowMs);
  const likelyCause =
    code === 'caller_token_rejected'
      ? likelyUnauthorizedCause(description, context.callerToken, context.brokerScope)
      : undefined;
  const parts = [
    `The broker answered ${response.status}${error ? ` ${error}` : ''} for ${scope}${description ? `: ${description}` : '.'}`,
  ];
  if (likelyCause) parts.push(explainUnauthorizedCause(likelyCause, context.brokerScope));
  if (retryAfterSeconds !== undefined) parts.push(`Retry after ${retryAfterSeconds} s.`);
  throw new BrokerRequestError(code, parts.join(' '), {
    status: response.status,
    error,
    error_description: description,
    retryAfterSeconds,
    likelyCause,
    scope,
  });
}
