/**
 * `BrokerCredential`: a `TokenCredential` whose tokens come from entra-token-broker. The workload's
 * own credential (managed identity, workload identity, a client secret...) gets the token the
 * broker checks; the broker answers with a token for the third-party API.
 *
 * Per scope it keeps the broker's answer until `refresh_in` has passed, lets one request run at a
 * time, and from then on refreshes in the background while the held token is still served — so a
 * workload in steady use never waits on the broker once it holds a token, and keeps working while
 * the broker is briefly unavailable.
 */
import type { AccessToken, GetTokenOptions, TokenCredential } from '@azure/core-auth';
import { type BrokerToken, type FetchFunction, processTokenResponse, sendTokenRequest } from './brokerExchange';
import { CallerTokenSource } from './callerTokenSource';
import { abortError, type AbortSignalLike, BrokerRequestError } from './errors';
import { DEFAULT_RETRY_OPTIONS, type RetryOptions, retryDelayMs, sleep } from './retryPolicy';
import { SharedFlight } from './sharedFlight';

export interface BrokerCredentialOptions {
  /**
   * The broker: its base URL (`https://func-token-broker.azurewebsites.net`) or its token endpoint
   * (`…/api/token`). `https:` only, except on the loopback interface (the local stack).
   */
  brokerUrl: string;
  /** The scope the workload's own token is asked for: the broker's API, e.g. `api://entra-token-broker/.default`. */
  brokerScope: string;
  /** The workload's own credential (from `@azure/identity`, or any `TokenCredential`). */
  credential: TokenCredential;
  /** Retries of 429/503 and network failures (defaults: 3 retries, 30 000 ms longest wait, 500 ms first backoff). */
  retry?: Partial<RetryOptions>;
  /** Each attempt's limit, the answer's body included (default 10 000 ms). */
  requestTimeoutMs?: number;
  /**
   * A held token with less than this left is not handed out; the caller waits for a new one
   * (default 60 000 ms). Until then a failing refresh leaves the held token in service.
   */
  minValidityMs?: number;
  /** The `fetch` to use (default the global one): for a proxy, a custom TLS agent, or tests. */
  fetch?: FetchFunction;
  /** The clock, in Unix milliseconds (default `Date.now`); tests move it. */
  now?: () => number;
  /** Uniform in [0, 1) (default `Math.random`): the retry jitter. */
  random?: () => number;
}

/** After a failed background refresh, the next one waits this long (or the broker's Retry-After). */
const BACKGROUND_RETRY_MS = 10_000;

interface ScopeSlot {
  token: AccessToken | undefined;
  /** `token`, already resolved: a cache hit allocates nothing. */
  resolved: Promise<AccessToken> | undefined;
  readonly flight: SharedFlight<AccessToken>;
  /** No background refresh before this (client clock), after one failed. */
  backgroundNotBeforeMs: number;
}

function isLoopback(hostname: string): boolean {
  return hostname === '127.0.0.1' || hostname === 'localhost' || hostname === '[::1]';
}

/** @throws TypeError when `brokerUrl` is not an https URL (or http on the loopback interface). */
function tokenUrlOf(brokerUrl: string): string {
  let url: URL;
  try {
    url = new URL(brokerUrl);
  } catch {
    throw new TypeError(`BrokerCredential: brokerUrl is not a URL: ${JSON.stringify(brokerUrl)}`);
  }
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && isLoopback(url.hostname))) {
    // The workload's own token travels with every request: never in clear text off the machine.
    throw new TypeError('BrokerCredential: brokerUrl must be https: (http: only on 127.0.0.1 or localhost)');
  }
  if (url.search || url.hash) throw new TypeError('BrokerCredential: brokerUrl takes no query or fragment');
  const path = url.pathname.replace(/\/+$/, '');
  url.pathname = path.endsWith('/api/token') ? path : `${path}/api/token`;
  return url.toString();
}

function nonNegative(value: number | undefined, fallback: number, name: string): number {
  if (value === undefined) return fallback;
  if (!Number.isFinite(value) || value < 0) throw new TypeError(`BrokerCredential: ${name} must be a number ≥ 0`);
  return value;
}

export class BrokerCredential implements TokenCredential {
  private readonly tokenUrl: string;
  private readonly brokerScope: string;
  private readonly callerTokens: CallerTokenSource;
  private readonly retry: RetryOptions;
  private readonly requestTimeoutMs: number;
  private readonly minValidityMs: number;
  private readonly fetchFn: FetchFunction;
  private readonly now: () => number;
  private readonly random: () => number;
  private readonly slots = new Map<string, ScopeSlot>();

  /** @throws TypeError for a missing or invalid option */
  constructor(options: BrokerCredentialOptions) {
    if (!options || typeof options !== 'object') throw new TypeError('BrokerCredential: options are required');
    this.tokenUrl = tokenUrlOf(options.brokerUrl);
    if (typeof options.brokerScope !== 'string' || !/^\S+\/\.default$/.test(options.brokerScope)) {
      throw new TypeError('BrokerCredential: brokerScope must be the broker API scope ending in /.default');
    }
    this.brokerScope = options.brokerScope;
    if (typeof options.credential?.getToken !== 'function') {
      throw new TypeError("BrokerCredential: credential must be the workload's own TokenCredential");
    }
    const retry = options.retry ?? {};
    this.retry = {
      maxRetries: nonNegative(retry.maxRetries, DEFAULT_RETRY_OPTIONS.maxRetries, 'retry.maxRetries'),
      maxRetryDelayMs: nonNegative(
        retry.maxRetryDelayMs,
        DEFAULT_RETRY_OPTIONS.maxRetryDelayMs,
        'retry.maxRetryDelayMs',
      ),
      initialRetryDelayMs: nonNegative(
        retry.initialRetryDelayMs,
        DEFAULT_RETRY_OPTIONS.initialRetryDelayMs,
        'retry.initialRetryDelayMs',
      ),
    };
    this.requestTimeoutMs = nonNegative(options.requestTimeoutMs, 10_000, 'requestTimeoutMs');
    this.minValidityMs = nonNegative(options.minValidityMs, 60_000, 'minValidityMs');
    this.fetchFn = options.fetch ?? ((input, init) => fetch(input, init));
    this.now = options.now ?? Date.now;
    this.random = options.random ?? Math.random;
    this.callerTokens = new CallerTokenSource(options.credential, this.brokerScope, this.now);
  }

  /**
   * A token for one scope of the third-party API (`api://…/.default`), from the cache while its
   * `refreshAfterTimestamp` has not passed.
   * @throws BrokerRequestError when no usable token can be had (see its `code`); the abort error
   * when `options.abortSignal` fires; TypeError when `scopes` is not exactly one scope.
   */
  getToken(scopes: string | string[], options?: GetTokenOptions): Promise<AccessToken> {
    const scope = typeof scopes === 'string' ? scopes : scopes.length === 1 ? scopes[0] : undefined;
    if (!scope) {
      return Promise.reject(
        new TypeError('BrokerCredential: getToken takes exactly one scope (the broker serves one per token)'),
      );
    }
    const slot = this.slots.get(scope);
    const token = slot?.token;
    if (slot && token) {
      const nowMs = this.now();
      if (nowMs < (token.refreshAfterTimestamp as number)) return slot.resolved as Promise<AccessToken>;
      if (nowMs < token.expiresOnTimestamp - this.minValidityMs) {
        this.refreshInBackground(scope, slot, nowMs);
        return slot.resolved as Promise<AccessToken>;
      }
    }
    return this.acquire(scope, slot ?? this.newSlot(scope), options?.abortSignal);
  }

  private newSlot(scope: string): ScopeSlot {
    const slot: ScopeSlot = {
      token: undefined,
      resolved: undefined,
      flight: new SharedFlight<AccessToken>(),
      backgroundNotBeforeMs: 0,
    };
    this.slots.set(scope, slot);
    return slot;
  }

  /** Waits for a token; a failure while the held token has not expired yet still returns that token. */
  private async acquire(scope: string, slot: ScopeSlot, signal: AbortSignalLike | undefined): Promise<AccessToken> {
    try {
      return await slot.flight.run((flightSignal) => this.refresh(scope, slot, flightSignal), signal);
    } catch (error) {
      const held = slot.token;
      if (held && !signal?.aborted && this.now() < held.expiresOnTimestamp) return held;
      throw error;
    }
  }

  private refreshInBackground(scope: string, slot: ScopeSlot, nowMs: number): void {
    if (slot.flight.running || nowMs < slot.backgroundNotBeforeMs) return;
    slot.flight
      .run((flightSignal) => this.refresh(scope, slot, flightSignal))
      .catch((error: unknown) => {
        const retryAfterMs = error instanceof BrokerRequestError ? (error.retryAfterSeconds ?? 0) * 1000 : 0;
        slot.backgroundNotBeforeMs = this.now() + Math.max(BACKGROUND_RETRY_MS, retryAfterMs);
      });
  }

  /** Gets a token from the broker (with retries) and puts it in the slot. */
  private async refresh(scope: string, slot: ScopeSlot, signal: AbortSignal): Promise<AccessToken> {
    const served = await this.requestWithRetries(scope, signal);
    const token: AccessToken = Object.freeze({
      token: served.accessToken,
      expiresOnTimestamp: served.expiresOnMs,
      refreshAfterTimestamp: served.refreshAfterMs,
      tokenType: 'Bearer' as const,
    });
    slot.token = token;
    slot.resolved = Promise.resolve(token);
    slot.backgroundNotBeforeMs = 0;
    return token;
  }

  private async requestWithRetries(scope: string, signal: AbortSignal): Promise<BrokerToken> {
    for (let retry = 1; ; retry += 1) {
      try {
        return await this.requestOnce(scope, signal);
      } catch (error) {
        if (!(error instanceof BrokerRequestError)) throw error;
        const delayMs = retryDelayMs(error, retry, this.retry, this.random);
        if (delayMs === undefined) throw error;
        await sleep(delayMs, signal);
      }
    }
  }

  private async requestOnce(scope: string, signal: AbortSignal): Promise<BrokerToken> {
    const callerToken = await this.callerTokens.get(signal);
    const sentAtMs = this.now();
    const attemptSignal = AbortSignal.any([signal, AbortSignal.timeout(this.requestTimeoutMs)]);
    try {
      const response = await sendTokenRequest(this.fetchFn, this.tokenUrl, callerToken, scope, attemptSignal);
      return await processTokenResponse(
        response,
        { scope, brokerScope: this.brokerScope, callerToken, sentAtMs },
        this.now(),
      );
    } catch (error) {
      if (error instanceof BrokerRequestError) throw error;
      if (signal.aborted) throw abortError(signal);
      const timedOut = attemptSignal.aborted;
      throw new BrokerRequestError(
        'network_error',
        timedOut
          ? `The broker did not answer within ${this.requestTimeoutMs} ms (${scope}).`
          : `The broker could not be reached (${scope}): ${error instanceof Error ? error.message : String(error)}`,
        { status: 0, scope, cause: error },
      );
    }
  }
}
