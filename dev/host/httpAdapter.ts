import type { IncomingMessage, ServerResponse } from 'node:http';
import { HttpRequest } from '@azure/functions';

/** What an HTTP function may return: an `HttpResponseInit`, an `HttpResponse` (of any copy of the library), or nothing. */
interface ResponseLike {
  status?: number;
  headers?: unknown;
  body?: unknown;
  jsonBody?: unknown;
  arrayBuffer?: () => Promise<ArrayBuffer>;
}

/**
 * Builds the `HttpRequest` the Functions worker would hand the function. The query is left to the
 * URL (not passed as a record) so repeated parameters stay visible to `request.query.getAll`.
 */
export function toHttpRequest(
  incoming: IncomingMessage,
  origin: string,
  body: Buffer,
  params: Record<string, string>,
): HttpRequest {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(incoming.headers)) {
    if (value === undefined) continue;
    headers[name] = Array.isArray(value) ? value.join(', ') : value;
  }
  const method = (incoming.method ?? 'GET').toUpperCase();
  return new HttpRequest({
    method,
    url: `${origin}${incoming.url ?? '/'}`,
    headers,
    params,
    body: body.length > 0 ? { bytes: body } : undefined,
  });
}

/**
 * Writes a function's result the way the host does: status (default 200), headers, then the body
 * from `jsonBody` (JSON, `application/json` unless set) or `body`. Cookies are ignored.
 */
export async function writeHttpResponse(res: ServerResponse, result: unknown): Promise<void> {
  const response = (result ?? {}) as ResponseLike;
  const status = typeof response.status === 'number' ? response.status : 200;
  const headers = toHeaderRecord(response.headers);
  let body: Buffer | string | undefined;

  if (typeof response.arrayBuffer === 'function' && !isPlainObject(response)) {
    // An HttpResponse instance (possibly from the app bundle's own copy of @azure/functions, so no instanceof).
    body = Buffer.from(await response.arrayBuffer());
  } else if (response.jsonBody !== undefined) {
    body = JSON.stringify(response.jsonBody);
    headers['content-type'] ??= 'application/json';
  } else if (typeof response.body === 'string') {
    body = response.body;
    headers['content-type'] ??= 'text/plain;charset=UTF-8';
  } else if (response.body instanceof Uint8Array) {
    body = Buffer.from(response.body.buffer, response.body.byteOffset, response.body.byteLength);
  } else if (response.body instanceof ArrayBuffer) {
    body = Buffer.from(response.body);
  } else if (response.body !== undefined && response.body !== null) {
    // Streams, blobs, form data: let the platform's Response do the conversion.
    const native = new Response(response.body as ConstructorParameters<typeof Response>[0], { status, headers });
    body = Buffer.from(await native.arrayBuffer());
    const type = native.headers.get('content-type');
    if (type) headers['content-type'] ??= type;
  }

  if (status === 204 || status === 304) body = undefined;
  if (body !== undefined) headers['content-length'] = String(Buffer.byteLength(body));
  res.writeHead(status, headers);
  res.end(body);
}

function isPlainObject(value: object): boolean {
  const proto: unknown = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

function toHeaderRecord(init: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  if (init === undefined || init === null) return out;
  if (typeof (init as Headers).forEach === 'function' && !Array.isArray(init)) {
    (init as Headers).forEach((value, name) => {
      out[name.toLowerCase()] = value;
    });
    return out;
  }
  const entries: Iterable<[string, unknown]> = Array.isArray(init)
    ? (init as [string, unknown][])
    : Object.entries(init as Record<string, unknown>);
  for (const [name, value] of entries) {
    if (value === undefined || value === null) continue;
    out[name.toLowerCase()] = typeof value === 'string' ? value : JSON.stringify(value);
  }
  return out;
}
