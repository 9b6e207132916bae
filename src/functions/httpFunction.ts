import type { HttpHandler, HttpRequest, HttpResponseInit, InvocationContext } from '@azure/functions';
import { serverErrorResponse } from '../http/httpResponses';
import type { CoreHttpRequest, CoreHttpResponse } from '../http/httpTypes';
import { runInInvocation } from './invocationLog';

/** A broker handler: everything that matters happens here, free of `@azure/functions`. */
export type CoreHttpHandler = (request: CoreHttpRequest) => Promise<CoreHttpResponse>;

/**
 * The one adapter of the HTTP functions (`token`, `health`): hands the host's request to a broker
 * handler and its answer back, with the lines logged meanwhile tied to this invocation (see
 * invocationLog.ts). Thin on purpose — `HttpRequest` already has the shape `CoreHttpRequest` names.
 */
export function createHttpFunction(handle: CoreHttpHandler): HttpHandler {
  return async (request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> => {
    let response: CoreHttpResponse;
    try {
      response = await runInInvocation(context, () => handle(request));
    } catch {
      // The handlers never throw; if one ever does, the caller still gets the contract's JSON 500.
      response = serverErrorResponse();
    }
    return { status: response.status, headers: response.headers, body: response.body };
  };
}
