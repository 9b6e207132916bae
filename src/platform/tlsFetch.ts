import type * as https from 'node:https';
import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';

/** What `fetch` accepts as a body (the DOM lib's BodyInit, which Node's types do not declare globally). */
type ResponseBody = ConstructorParameters<typeof Response>[0];

let httpsModule: typeof https | undefined;
/**
 * node:https (and with it node:tls) on first use: only the local stack and tests pass a CA, and
 * loading them costs the app's load about a millisecond in Azure, where this is never called.
 */
function httpsRequest(...args: Parameters<typeof https.request>): ReturnType<typeof https.request> {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  httpsModule ??= require('node:https') as typeof https;
  return httpsModule.request(...args);
}

/**
 * A `fetch` built on node:https that also trusts `caPem` (the emulator's CA in tests and local
 * runs). Node's global fetch reads `NODE_EXTRA_CA_CERTS` only at process start, so code that needs
 * an extra CA at run time (jose's remote key set, webhooks) takes this as an injected `fetch`.
 * Without `caPem` it returns the global `fetch` (production: system trust store).
 *
 * Supports what those callers need: method, headers, string/Uint8Array/URLSearchParams bodies,
 * `AbortSignal`, and a fully buffered response. No redirects are followed (`redirect` is treated
 * as `manual`), which is what a token or key endpoint client wants anyway.
 */
export function createTlsFetch(caPem?: string): typeof fetch {
  if (caPem === undefined || caPem === '') return fetch;
  const tlsFetch = (input: string | URL | Request, init?: RequestInit): Promise<Response> =>
    sendRequest(input, init, caPem);
  return tlsFetch;
}

async function sendRequest(
  input: string | URL | Request,
  init: RequestInit | undefined,
  caPem: string,
): Promise<Response> {
  const url = new URL(input instanceof Request ? input.url : input.toString());
  const method = (init?.method ?? (input instanceof Request ? input.method : 'GET')).toUpperCase();
  const headers = new Headers(input instanceof Request ? input.headers : undefined);
  new Headers(init?.headers).forEach((value, key) => headers.set(key, value));
  const body = await bodyBytes(
    init?.body ?? (input instanceof Request && input.body ? await input.arrayBuffer() : undefined),
    headers,
  );
  if (body !== undefined) headers.set('content-length', String(body.byteLength));
  const signal = init?.signal ?? (input instanceof Request ? input.signal : undefined);
  if (signal?.aborted) throw abortError(signal);

  const outgoing: Record<string, string> = {};
  headers.forEach((value, key) => (outgoing[key] = value));

  return new Promise<Response>((resolve, reject) => {
    const options = { method, headers: outgoing, ...(url.protocol === 'https:' ? { ca: caPem } : {}) };
    const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
    const req = send(url, options, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('error', reject);
      res.on('end', () => {
        signal?.removeEventListener('abort', onAbort);
        const status = res.statusCode ?? 502;
        const nullBody = method === 'HEAD' || status === 204 || status === 304;
        resolve(
          new Response(nullBody ? null : Buffer.concat(chunks), {
            status,
            statusText: res.statusMessage ?? '',
            headers: toHeaders(res.headers),
          }),
        );
      });
    });
    const onAbort = (): void => {
      req.destroy(abortError(signal));
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    req.on('error', (error) => {
      signal?.removeEventListener('abort', onAbort);
      reject(error);
    });
    req.end(body);
  });
}

async function bodyBytes(
  body: ResponseBody | ArrayBuffer | undefined | null,
  headers: Headers,
): Promise<Buffer | undefined> {
  if (body === undefined || body === null) return undefined;
  if (typeof body === 'string') return Buffer.from(body);
  if (body instanceof URLSearchParams) {
    if (!headers.has('content-type')) headers.set('content-type', 'application/x-www-form-urlencoded;charset=UTF-8');
    return Buffer.from(body.toString());
  }
  if (body instanceof ArrayBuffer) return Buffer.from(body);
  if (ArrayBuffer.isView(body)) return Buffer.from(body.buffer, body.byteOffset, body.byteLength);
  // Anything else (streams, FormData, Blob): let the platform serialise it.
  const response = new Response(body as ResponseBody);
  const type = response.headers.get('content-type');
  if (type && !headers.has('content-type')) headers.set('content-type', type);
  return Buffer.from(await response.arrayBuffer());
}

function toHeaders(incoming: IncomingHttpHeaders): Headers {
  const headers = new Headers();
  for (const [key, value] of Object.entries(incoming)) {
    if (value === undefined) continue;
    if (Array.isArray(value)) for (const item of value) headers.append(key, item);
    else headers.set(key, value);
  }
  return headers;
}

function abortError(signal: AbortSignal | undefined): Error {
  const reason: unknown = signal?.reason;
  if (reason instanceof Error) return reason;
  const error = new Error('The operation was aborted.');
  error.name = 'AbortError';
  return error;
}
