import type { app as functionsApp } from '@azure/functions';
import type { Broker } from './broker';
import { type CoreHttpHandler, createHttpFunction } from './functions/httpFunction';
import { createWarmupFunction } from './functions/warmup';

/**
 * Every method is routed to our handlers so that they, not the host, answer unsupported methods
 * with the contract's JSON 405 and `Allow` header.
 */
export const ROUTED_METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD', 'OPTIONS'] as const;

/**
 * Registers the broker's functions. The broker authenticates callers itself (Entra tokens checked
 * with jose), so the HTTP functions are anonymous at the host level; docs/deploying.md ("What can sit
 * in front of the broker") covers adding a function key, Easy Auth or network restrictions.
 */
export function registerFunctions(app: typeof functionsApp, broker: Broker): void {
  registerHttpFunctions(app, { token: broker.handleTokenRequest, health: broker.handleHealth });
  app.timer('warmup', {
    schedule: broker.config.warmupSchedule,
    runOnStartup: false,
    useMonitor: true,
    handler: createWarmupFunction(broker.runWarmup, broker.logger),
  });
}

/**
 * The HTTP functions alone, with the given handlers: the broker's, or those of a broker that cannot
 * run (src/http/unavailableHandlers.ts), so a bad setting never leaves the app with no functions.
 */
export function registerHttpFunctions(
  app: typeof functionsApp,
  handlers: { readonly token: CoreHttpHandler; readonly health: CoreHttpHandler },
): void {
  app.http('token', {
    route: 'token',
    methods: [...ROUTED_METHODS],
    authLevel: 'anonymous',
    handler: createHttpFunction(handlers.token),
  });
  app.http('health', {
    route: 'health',
    methods: [...ROUTED_METHODS],
    authLevel: 'anonymous',
    handler: createHttpFunction(handlers.health),
  });
}
