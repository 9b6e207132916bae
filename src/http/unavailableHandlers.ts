import { MAX_RETRY_AFTER_SECONDS } from '../contract/retryAfter';
import { jsonResponse, unavailableResponse } from './httpResponses';
import type { CoreHttpRequest, CoreHttpResponse } from './httpTypes';

type Handler = (request: CoreHttpRequest) => Promise<CoreHttpResponse>;

/**
 * The token and health handlers of a broker that cannot run (its settings do not parse): every
 * request, whatever its method, gets 503 — `temporarily_unavailable` from the token endpoint,
 * `{"status":"unhealthy"}` from health — and nothing about the configuration, which only the log
 * names. Registering these instead of nothing keeps callers and probes from a bare 404 that says
 * the route does not exist.
 */
export function createUnavailableHandlers(): { readonly token: Handler; readonly health: Handler } {
  // A setting is fixed by a deployment, not in seconds: ask callers to come back late.
  const token = unavailableResponse(MAX_RETRY_AFTER_SECONDS);
  const health = jsonResponse(503, { status: 'unhealthy' });
  return {
    token: () => Promise.resolve({ ...token, headers: { ...token.headers } }),
    health: () => Promise.resolve({ ...health, headers: { ...health.headers } }),
  };
}
