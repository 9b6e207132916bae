import type { HttpHandler, HttpRequest, HttpResponseInit, InvocationContext } from '@azure/functions';
import { serverErrorResponse } from '../core/httpErrors';
import type { CoreHttpRequest, CoreHttpResponse } from '../core/tokenRequestHandler';

/**
 * The `token` function: hands the host's request to the core handler and its answer back. Thin on
 * purpose; everything that matters is in `createTokenRequestHandler`.
 */
export function createTokenFunction(handle: (request: CoreHttpRequest) => Promise<CoreHttpResponse>): HttpHandler {
  return adaptHttpHandler(handle);
}

/** Shared by the HTTP functions: `HttpRequest` already has the shape `CoreHttpRequest` names. */
export function adaptHttpHandler(handle: (request: CoreHttpRequest) => Promise<CoreHttpResponse>): HttpHandler {
  return async (request: HttpRequest, _context: InvocationContext): Promise<HttpResponseInit> => {
    let response: CoreHttpResponse;
    try {
      response = await handle(request);
    } catch {
      // The core never throws; if it ever does, the caller still gets the contract's JSON 500.
      response = serverErrorResponse();
    }
    return { status: response.status, headers: response.headers, body: response.body };
  };
}
