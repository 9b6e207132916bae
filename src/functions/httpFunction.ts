import type { HttpHandler, HttpRequest, HttpResponseInit, InvocationContext } from '@azure/functions';
import { serverErrorResponse } from '../http/httpResponses';
import type { CoreHttpRequest, CoreHttpResponse } from '../http/httpTypes';
import type { LogSink } from '../platform/logger';
import { openInvocationLog } from './invocationLog';

/**
 * A broker handler: everything that matters happens here, free of `@azure/functions`. `requestLog`
 * takes the lines that belong to this request (see invocationLog.ts).
 */
export type CoreHttpHandler = (request: CoreHttpRequest, requestLog?: LogSink) => Promise<CoreHttpResponse>;

/**
 * The one adapter of the HTTP functions (`token`, `health`): hands the host's request to a broker
 * handler and its answer back, with the request's own lines tied to this invocation (see
 * invocationLog.ts). Thin on purpose — `HttpRequest` already has the shape `CoreHttpRequest` names.
 * @param processSink where the request's lines go once the invocation ended (default: stdout/stderr)
 */
export function createHttpFunction(handle: CoreHttpHandler, processSink?: LogSink): HttpHandler {
  return async (request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> => {
    const log = openInvocationLog(context, processSink);
    let response: CoreHttpResponse;
    try {
      response = await handle(request, log.sink);
    } catch {
      // The handlers never throw; if one ever does, the caller still gets the contract's JSON 500.
      response = serverErrorResponse();
    } finally {
      log.close();
    }
    return { status: response.status, headers: response.headers, body: response.body };
  };
}
