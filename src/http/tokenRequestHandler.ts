import type { CallerAuthenticator, CallerIdentity } from '../callers/callerAuth';
import { type Clock, systemClock } from '../platform/clock';
import type { BrokerConfig } from '../contract/config';
import { BrokerError, type BrokerErrorCode } from '../contract/errors';
import { baseResponseHeaders, errorResponse, serverErrorResponse, toHttpError } from './httpResponses';
import type { Logger, LogSink } from '../platform/logger';
import { authorizeScope } from '../callers/policy';
import type { RateLimiter } from '../callers/rateLimiter';
import { truncateForLog } from '../platform/redact';
import { describeScopeProblem } from '../contract/scope';
import type { ServedToken, TokenProvider } from '../tokens/tokenProvider';
import type { CoreHttpRequest, CoreHttpResponse } from './httpTypes';

export interface TokenRequestHandlerOptions {
  readonly config: BrokerConfig;
  readonly tokens: TokenProvider;
  readonly authenticator: CallerAuthenticator;
  readonly rateLimiter: RateLimiter;
  readonly logger: Logger;
  readonly clock?: Clock;
  /** Uniform in [0, 1); jitters `refresh_in`. Default Math.random. */
  readonly random?: () => number;
}

/** The success body (docs/openapi.yaml). */
export interface TokenResponseBody {
  token_type: 'Bearer';
  access_token: string;
  expires_in: number;
  expires_on: number;
  scope: string;
  refresh_in: number;
}

/** Largest request body read ; larger ones get 413. */
export const MAX_BODY_BYTES = 4096;
export const TOKEN_ALLOWED_METHODS: readonly string[] = Object.freeze(['GET', 'POST']);
/** Slack for the time between the engine's lifetime check and our response. */
const LIFETIME_SLACK_MS = 5_000;
const FORM = 'application/x-www-form-urlencoded';
const JSON_TYPE = 'application/json';
const ACCEPTED_CHARSETS = new Set(['utf-8', 'utf8', 'us-ascii']);

interface AuditRecord {
  method: string;
  caller?: CallerIdentity;
  scope?: string;
  cacheHit?: boolean;
}

/**
 * The token endpoint (docs/openapi.yaml). Order of checks, each answered as soon as it fails:
 * 1. method (405); a token in the query string (400);
 * 2. the caller token (401 when missing or invalid, 403 when not an app-only token with the role,
 *    503 when the tenant's keys cannot be had) — a bad token is 401 whatever else is wrong;
 * 3. the caller's rate limit (429);
 * 4. the body and parameters (413, 415, 400: duplicated or conflicting `scope`, bad JSON, a token
 *    in the body), then the scope's form (400) — all before anything goes upstream;
 * 5. the policy (403), then the token engine (503 on failure).
 * Every response, a 500 included, is JSON with the headers of `BASE_RESPONSE_HEADERS`, and one
 * `TokenRequest` audit line is written per request.
 */
export function createTokenRequestHandler(
  options: TokenRequestHandlerOptions,
): (request: CoreHttpRequest, requestLog?: LogSink) => Promise<CoreHttpResponse> {
  const { config, tokens, authenticator, rateLimiter } = options;
  const clock = options.clock ?? systemClock;
  const random = options.random ?? Math.random;
  const logger = options.logger.child('TokenEndpoint');
  // JSON form of the last access token served per (configured, so few) scope: see serializeTokenResponse.
  const accessTokenJson = new Map<string, { readonly token: string; readonly json: string }>();
  const tokenJson = (scope: string, token: string): string => {
    const known = accessTokenJson.get(scope);
    if (known !== undefined && known.token === token) return known.json;
    const json = JSON.stringify(token);
    accessTokenJson.set(scope, { token, json });
    return json;
  };

  const handle = async (request: CoreHttpRequest, audit: AuditRecord): Promise<CoreHttpResponse> => {
    const method = request.method.toUpperCase();
    if (!TOKEN_ALLOWED_METHODS.includes(method)) {
      throw new BrokerError('method_not_allowed', 'Use GET or POST.');
    }
    if (request.query.has('access_token')) {
      throw new BrokerError('request_invalid', 'Send the caller token in the Authorization header, not in the URL.');
    }

    const caller = await authenticator.authenticate(request.headers.get('authorization'));
    audit.caller = caller;

    const decision = rateLimiter.take(caller.policyKey);
    if (!decision.allowed) {
      throw new BrokerError('caller_rate_limited', 'Too many requests from this caller; slow down.', {
        retryAfterSeconds: decision.retryAfterSeconds,
      });
    }

    const requested = await readRequestedScope(request, method);
    const scope = requested ?? config.defaultScope;
    const problem = describeScopeProblem(scope);
    if (problem !== undefined) {
      // Malformed input can be anything (a pasted secret included): the audit line gets its size only.
      audit.scope = `[invalid scope, ${scope.length} chars]`;
      throw new BrokerError('request_invalid', `The scope ${problem}.`);
    }
    audit.scope = scope;
    const canonical = authorizeScope(config, caller, scope);

    const served = await tokens.getToken(canonical);
    audit.cacheHit = served.cacheHit;
    const body = buildTokenResponse(served, canonical, config, clock.now(), random);
    return {
      status: 200,
      headers: baseResponseHeaders(),
      body: serializeTokenResponse(body, tokenJson(canonical, body.access_token)),
    };
  };

  // `requestLog` takes this request's own lines (its audit line, an unexpected error): the HTTP
  // adapter ties them to the invocation serving it (src/functions/invocationLog.ts).
  return async (request, requestLog) => {
    const log = requestLog === undefined ? logger : logger.withSink(requestLog);
    const startMs = clock.now();
    const audit: AuditRecord = { method: safeMethod(request) };
    let response: CoreHttpResponse;
    let failure: unknown;
    try {
      response = await handle(request, audit);
    } catch (error) {
      failure = error;
      try {
        response = errorResponse(error, { allowedMethods: TOKEN_ALLOWED_METHODS, logger: log });
      } catch {
        response = serverErrorResponse();
      }
    }
    writeAudit(log, audit, response, failure, clock.now() - startMs);
    return response;
  };
}

/**
 * The success body, computed when the response is sent (docs/openapi.yaml).
 * @throws BrokerError `token_lifetime_too_short` when the provider handed over a token with less
 * than TOKEN_MIN_LIFETIME_SECONDS left (the broker never serves one).
 */
export function buildTokenResponse(
  served: ServedToken,
  scope: string,
  config: BrokerConfig,
  nowMs: number,
  random: () => number,
): TokenResponseBody {
  const remainingMs = served.expiresOnMs - nowMs;
  if (remainingMs < Math.max(1_000, config.tokenMinLifetimeSeconds * 1000 - LIFETIME_SLACK_MS)) {
    throw new BrokerError('token_lifetime_too_short', 'The token provider returned a token that expires too soon.');
  }
  const expiresIn = Math.floor(remainingMs / 1000);
  return {
    token_type: 'Bearer',
    access_token: served.accessToken,
    expires_in: expiresIn,
    expires_on: Math.floor(served.expiresOnMs / 1000),
    scope,
    refresh_in: computeRefreshInSeconds(served, nowMs, expiresIn, config.tokenMinLifetimeSeconds, random),
  };
}

/**
 * `JSON.stringify(body)`, byte for byte, with the access token's JSON form supplied by the caller.
 * The token (a kilobyte or more) is the only large value; JSON-escaping it was the largest part of
 * a cache-hit response, and one cached token is served many times, so the handler escapes it once.
 */
export function serializeTokenResponse(body: TokenResponseBody, accessTokenJson: string): string {
  return (
    `{"token_type":${JSON.stringify(body.token_type)},"access_token":${accessTokenJson}` +
    `,"expires_in":${JSON.stringify(body.expires_in)},"expires_on":${JSON.stringify(body.expires_on)}` +
    `,"scope":${JSON.stringify(body.scope)},"refresh_in":${JSON.stringify(body.refresh_in)}}`
  );
}

/**
 * Seconds until the caller should come back: uniformly between 70 % and 100 % of the time until
 * the broker itself refreshes the token (so callers arrive after the refresh and not all at once).
 * When that moment has passed (a refresh is overdue), half of the usable lifetime, at most 60 s.
 * Always at least 1 and, where possible, below `expires_in − TOKEN_MIN_LIFETIME_SECONDS`, so the
 * caller comes back while its token still has the minimum lifetime.
 */
export function computeRefreshInSeconds(
  served: ServedToken,
  nowMs: number,
  expiresInSeconds: number,
  minLifetimeSeconds: number,
  random: () => number,
): number {
  const usableSeconds = expiresInSeconds - minLifetimeSeconds;
  const untilRefreshSeconds = (served.refreshAtMs - nowMs) / 1000;
  const baseSeconds = untilRefreshSeconds > 0 ? untilRefreshSeconds : Math.min(60, usableSeconds / 2);
  const r = random();
  const fraction = 0.7 + 0.3 * (Number.isFinite(r) ? Math.min(Math.max(r, 0), 1) : 0.5);
  const jittered = Math.floor(baseSeconds * fraction);
  return Math.max(1, Math.min(jittered, usableSeconds - 1));
}

/**
 * The scope the request names, or undefined for the default. GET: the query. POST: the query or
 * the body, not both (two places for one value invite a proxy and the broker to disagree).
 * @throws BrokerError `request_invalid`, `payload_too_large`, `unsupported_media_type`.
 */
async function readRequestedScope(request: CoreHttpRequest, method: string): Promise<string | undefined> {
  const fromQuery = singleParam(request.query.getAll('scope'));
  if (method !== 'POST') return fromQuery;
  const fromBody = await readBodyScope(request);
  if (fromQuery !== undefined && fromBody !== undefined) {
    throw new BrokerError('request_invalid', 'Give the scope in the query or in the body, not both.');
  }
  return fromBody ?? fromQuery;
}

function singleParam(values: string[]): string | undefined {
  if (values.length > 1) throw new BrokerError('request_invalid', 'The scope parameter is repeated.');
  return values[0];
}

async function readBodyScope(request: CoreHttpRequest): Promise<string | undefined> {
  const declared = request.headers.get('content-length');
  if (declared !== null && /^\s*\d+\s*$/.test(declared) && Number(declared) > MAX_BODY_BYTES) {
    throw new BrokerError('payload_too_large', `The body is larger than ${MAX_BODY_BYTES} bytes.`);
  }
  const body = await request.text();
  if (Buffer.byteLength(body, 'utf8') > MAX_BODY_BYTES) {
    throw new BrokerError('payload_too_large', `The body is larger than ${MAX_BODY_BYTES} bytes.`);
  }
  if (body === '') return undefined;

  const mediaType = parseMediaType(request.headers.get('content-type'));
  if (mediaType === FORM) {
    const form = new URLSearchParams(body);
    if (form.has('access_token')) {
      throw new BrokerError('request_invalid', 'Send the caller token in the Authorization header, not in the body.');
    }
    return singleParam(form.getAll('scope'));
  }
  if (mediaType === JSON_TYPE) return jsonScope(body);
  throw new BrokerError('unsupported_media_type', `Send the body as ${FORM} or ${JSON_TYPE}.`);
}

/** Lower-case media type, or undefined when missing or with a charset other than UTF-8/ASCII. */
function parseMediaType(header: string | null): string | undefined {
  if (header === null) return undefined;
  const [type = '', ...parameters] = header.split(';');
  for (const parameter of parameters) {
    const equals = parameter.indexOf('=');
    if (equals < 0) continue;
    const name = parameter.slice(0, equals).trim().toLowerCase();
    const value = parameter
      .slice(equals + 1)
      .trim()
      .replace(/^"(.*)"$/, '$1')
      .toLowerCase();
    if (name === 'charset' && !ACCEPTED_CHARSETS.has(value)) return undefined;
  }
  return type.trim().toLowerCase();
}

function jsonScope(body: string): string | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    throw new BrokerError('request_invalid', 'The body is not valid JSON.');
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new BrokerError('request_invalid', 'The JSON body must be an object.');
  }
  if (Object.hasOwn(parsed, 'access_token')) {
    throw new BrokerError('request_invalid', 'Send the caller token in the Authorization header, not in the body.');
  }
  if (!Object.hasOwn(parsed, 'scope')) return undefined;
  // JSON.parse keeps the last of repeated keys; a proxy may read the first, so refuse repeats.
  if (countTopLevelKeys(body, 'scope') > 1)
    throw new BrokerError('request_invalid', 'The scope parameter is repeated.');
  const scope = (parsed as { scope?: unknown }).scope;
  if (typeof scope !== 'string') throw new BrokerError('request_invalid', 'The scope must be a string.');
  return scope;
}

/** How often `key` is a key of the top-level object in `json` (which JSON.parse has accepted). */
export function countTopLevelKeys(json: string, key: string): number {
  let count = 0;
  let depth = 0;
  for (let i = 0; i < json.length; i++) {
    const ch = json[i];
    if (ch === '{' || ch === '[') depth++;
    else if (ch === '}' || ch === ']') depth--;
    else if (ch === '"') {
      let end = i + 1;
      while (end < json.length && json[end] !== '"') end += json[end] === '\\' ? 2 : 1;
      let next = end + 1;
      while (next < json.length && /\s/.test(json[next] ?? '')) next++;
      if (depth === 1 && json[next] === ':' && JSON.parse(json.slice(i, end + 1)) === key) count++;
      i = end;
    }
  }
  return count;
}

/** The request method for the audit line: caller input, so bounded. */
function safeMethod(request: CoreHttpRequest): string {
  return typeof request.method === 'string' ? request.method.slice(0, 16) : 'unknown';
}

function writeAudit(
  logger: Logger,
  audit: AuditRecord,
  response: CoreHttpResponse,
  failure: unknown,
  latencyMs: number,
): void {
  try {
    const errorCode: BrokerErrorCode | 'unexpected' | undefined =
      failure === undefined ? undefined : failure instanceof BrokerError ? failure.code : 'unexpected';
    const fields = {
      method: audit.method,
      status: response.status,
      error: failure === undefined ? undefined : toHttpError(failure).error,
      errorCode,
      // Our own sentence (never caller input or upstream text); says why a 4xx happened.
      reason: failure instanceof BrokerError && response.status < 500 ? failure.message : undefined,
      tid: audit.caller?.tenantId,
      azp: audit.caller?.appId,
      oid: audit.caller?.objectId,
      tokenHash: audit.caller?.tokenHash,
      scope: audit.scope === undefined ? undefined : truncateForLog(audit.scope, 128),
      cacheHit: audit.cacheHit,
      latencyMs,
    };
    if (response.status >= 500 && response.status !== 503) logger.error('TokenRequest', fields);
    else if (response.status >= 500) logger.warn('TokenRequest', fields);
    else logger.info('TokenRequest', fields);
  } catch {
    // An audit failure must not turn a served response into an error.
  }
}
