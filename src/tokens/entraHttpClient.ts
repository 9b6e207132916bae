import type { INetworkModule, NetworkRequestOptions, NetworkResponse } from '@azure/msal-node';
import type { BrokerError } from '../contract/errors';
import {
  classifyMetadataAnswer,
  classifyTokenEndpointAnswer,
  classifyTransportFailure,
  transportErrorCode,
} from './entraErrors';

/** Bound on the authority metadata reads, which MSAL makes without a correlation ID or signal. */
export const DEFAULT_METADATA_TIMEOUT_MS = 5000;
/**
 * How long a metadata answer is kept: 24 h, the time after which MSAL itself refreshes the
 * authority metadata it caches (msal-common's AUTHORITY_METADATA_REFRESH_TIME_SECONDS).
 */
export const METADATA_KEEP_MS = 24 * 60 * 60 * 1000;
const MAX_BODY_CHARS = 1_000_000;

/** One token request in flight: its abort signal, and the failure our client saw, if any. */
export interface EntraRequestSlot {
  readonly signal: AbortSignal;
  failure: BrokerError | undefined;
}

/**
 * The network module msal-node sends its requests through (`system.networkClient`, the documented
 * way to bring one's own HTTP client). It exists for three things MSAL's own client does not give
 * the broker:
 * - the extra CA of the emulator (the injected `fetch`, see tlsFetch.ts);
 * - a real abort: each token POST carries MSAL's correlation ID, which the token client chose and
 *   registered here with the attempt's AbortSignal, so a deadline cancels the socket;
 * - the HTTP status and `Retry-After`: MSAL reads neither for a 429 with a plain-text body (it
 *   would even treat it as a response without a token). The answer is classified here
 *   (entraErrors.ts) and, when it is a failure, kept in the attempt's slot and thrown; MSAL
 *   replaces what we throw by its own `network_error`, so the token client reads the slot.
 * A failure is thrown before MSAL sees the response, so MSAL never records a 429/5xx for its
 * local throttling (it would refuse the same request for 60 s, whatever `Retry-After` said).
 *
 * It also keeps the authority metadata (the GETs) for the process: MSAL caches it per application,
 * and the token client makes one application per credential, so without this every new credential
 * (the first one on a cold instance, every rotation) would wait for one more read before its token.
 */
export class EntraHttpClient implements INetworkModule {
  private readonly slots = new Map<string, EntraRequestSlot>();
  /** Successful metadata answers per URL; only the few URLs MSAL reads for the configured authority. */
  private readonly kept = new Map<string, { readonly expiresAtMs: number; readonly answer: MetadataAnswer }>();
  /** The read in flight per URL, which concurrent callers join. */
  private readonly reading = new Map<string, Promise<MetadataAnswer>>();
  /** The last authority metadata failure, cleared by a success: what MSAL's `endpoints_resolution_error` meant. */
  metadataFailure: BrokerError | undefined;

  constructor(
    private readonly fetchFn: typeof fetch,
    private readonly now: () => number,
    private readonly metadataTimeoutMs = DEFAULT_METADATA_TIMEOUT_MS,
  ) {}

  /** Registers a request MSAL will make with `correlationId`; call `release` when it settled. */
  open(correlationId: string, signal: AbortSignal): EntraRequestSlot {
    const slot: EntraRequestSlot = { signal, failure: undefined };
    this.slots.set(correlationId, slot);
    return slot;
  }

  release(correlationId: string): void {
    this.slots.delete(correlationId);
  }

  /**
   * The authority metadata at `url`: a kept answer while it is younger than METADATA_KEEP_MS (on
   * the injected clock), else one read shared by all who ask meanwhile. A failure is never kept.
   * Every caller gets its own copy, since MSAL may change the object it receives.
   */
  async sendGetRequestAsync<T>(url: string, options?: NetworkRequestOptions): Promise<NetworkResponse<T>> {
    const kept = this.kept.get(url);
    if (kept !== undefined && this.now() < kept.expiresAtMs) {
      this.metadataFailure = undefined;
      return copyOf(kept.answer) as NetworkResponse<T>;
    }
    let reading = this.reading.get(url);
    if (reading === undefined) {
      reading = this.readMetadata(url, options).finally(() => this.reading.delete(url));
      this.reading.set(url, reading);
    }
    return copyOf(await reading) as NetworkResponse<T>;
  }

  private async readMetadata(url: string, options: NetworkRequestOptions | undefined): Promise<MetadataAnswer> {
    const get = (): Promise<Response> =>
      this.fetchFn(url, {
        method: 'GET',
        headers: options?.headers,
        redirect: 'manual',
        signal: AbortSignal.timeout(this.metadataTimeoutMs),
      });
    let response: Response;
    try {
      // One retry of this idempotent read: a kept-alive socket that the server closed just as it
      // was reused resets the first request, and the metadata is read once a day at most.
      response = await get().catch(get);
    } catch (error) {
      this.metadataFailure = classifyTransportFailure(error, "Reading Entra's OpenID metadata");
      throw this.metadataFailure;
    }
    const body = await readJsonObject(response);
    if (!response.ok || body === undefined) {
      this.metadataFailure = classifyMetadataAnswer(response.ok ? 502 : response.status);
      throw this.metadataFailure;
    }
    this.metadataFailure = undefined;
    const answer: MetadataAnswer = { status: response.status, headers: headersOf(response), body };
    // Only a plain 200 is kept: another 2xx is served once but is not what a discovery document is.
    if (response.status === 200) this.kept.set(url, { expiresAtMs: this.now() + METADATA_KEEP_MS, answer });
    return answer;
  }

  async sendPostRequestAsync<T>(url: string, options?: NetworkRequestOptions): Promise<NetworkResponse<T>> {
    const slot = options?.correlationId === undefined ? undefined : this.slots.get(options.correlationId);
    // Every token request comes from EntraTokenClient with a registered correlation ID; a stray
    // one (a future MSAL feature) still gets a bound.
    const signal = slot?.signal ?? AbortSignal.timeout(this.metadataTimeoutMs);
    const fail = (failure: BrokerError): never => {
      if (slot !== undefined) slot.failure = failure;
      throw failure;
    };
    const post = (): Promise<Response> =>
      this.fetchFn(url, { method: 'POST', headers: options?.headers, body: options?.body, redirect: 'manual', signal });
    let response: Response;
    try {
      // A reset before any answer is the stale kept-alive socket (see above); one more try is safe:
      // at worst Entra issues two tokens.
      response = await post().catch((error: unknown) => {
        if (signal.aborted || transportErrorCode(error) !== 'ECONNRESET') throw error;
        return post();
      });
    } catch (error) {
      return fail(classifyTransportFailure(error, 'The Entra token request'));
    }
    const body = await readJsonObject(response);
    const failure = classifyTokenEndpointAnswer(
      { status: response.status, retryAfter: response.headers.get('retry-after') ?? undefined, body },
      this.now(),
    );
    if (failure !== undefined) return fail(failure);
    return { status: response.status, headers: headersOf(response), body: body as T };
  }
}

type MetadataAnswer = NetworkResponse<Record<string, unknown>>;

/** A deep copy (the body is parsed JSON, so it clones exactly). */
function copyOf(answer: MetadataAnswer): MetadataAnswer {
  return structuredClone(answer);
}

/** The body as a JSON object, or undefined (not JSON, an array, too large, or the read failed). */
async function readJsonObject(response: Response): Promise<Record<string, unknown> | undefined> {
  let text: string;
  try {
    text = await response.text();
  } catch {
    return undefined;
  }
  if (text.length === 0 || text.length > MAX_BODY_CHARS) return undefined;
  try {
    const parsed: unknown = JSON.parse(text);
    return parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed)
      ? (parsed as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}

function headersOf(response: Response): Record<string, string> {
  const headers: Record<string, string> = {};
  response.headers.forEach((value, key) => (headers[key] = value));
  return headers;
}
