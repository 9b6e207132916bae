import type { HttpHandler } from '@azure/functions';
import type { CoreHttpRequest, CoreHttpResponse } from '../core/tokenRequestHandler';
import { adaptHttpHandler } from './token';

/** The `health` function: a thin adapter around `createHealthHandler`. */
export function createHealthFunction(handle: (request: CoreHttpRequest) => Promise<CoreHttpResponse>): HttpHandler {
  return adaptHttpHandler(handle);
}
