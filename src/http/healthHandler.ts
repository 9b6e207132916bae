import { BrokerError } from '../contract/errors';
import { errorResponse, jsonResponse, serverErrorResponse } from './httpResponses';
import type { Logger, LogSink } from '../platform/logger';
import type { CoreHttpRequest, CoreHttpResponse } from './httpTypes';
import type { TokenProvider } from '../tokens/tokenProvider';

export interface HealthHandlerOptions {
  readonly tokens: Pick<TokenProvider, 'health'>;
  readonly logger: Logger;
}

export const HEALTH_ALLOWED_METHODS: readonly string[] = Object.freeze(['GET']);

/**
 * `GET /api/health` (docs/openapi.yaml): 200 `{"status":"ok"}` or 503 `{"status":"unhealthy"}`, from the
 * provider's cheap synchronous view; anonymous, so nothing else (secret, tenant, cache) is said.
 * Other methods get 405 with `Allow: GET`.
 */
export function createHealthHandler(
  options: HealthHandlerOptions,
): (request: CoreHttpRequest, requestLog?: LogSink) => Promise<CoreHttpResponse> {
  const endpointLogger = options.logger.child('HealthEndpoint');
  return async (request, requestLog) => {
    const logger = requestLog === undefined ? endpointLogger : endpointLogger.withSink(requestLog);
    try {
      if (typeof request.method !== 'string' || request.method.toUpperCase() !== 'GET') {
        throw new BrokerError('method_not_allowed', 'Use GET.');
      }
      let healthy: boolean;
      try {
        healthy = options.tokens.health() === 'ok';
      } catch (error) {
        // A provider that cannot say it is healthy is not; a probe must not see a 500.
        logger.error('HealthCheckFailed', { error });
        healthy = false;
      }
      return healthy ? jsonResponse(200, { status: 'ok' }) : jsonResponse(503, { status: 'unhealthy' });
    } catch (error) {
      try {
        return errorResponse(error, { allowedMethods: HEALTH_ALLOWED_METHODS, logger });
      } catch {
        return serverErrorResponse();
      }
    }
  };
}
