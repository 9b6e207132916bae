import type { CapturedFunction } from './functionRegistry';
import { describeFunctions } from './describeFunctions';

/** One HTTP-triggered function, compiled for matching. */
export interface HttpRoute {
  readonly fn: CapturedFunction;
  /** Route template as registered (without the `api/` prefix). */
  readonly template: string;
  readonly methods: ReadonlySet<string>;
  readonly pattern: RegExp;
  readonly paramNames: readonly string[];
}

export type RouteMatch = { kind: 'match'; route: HttpRoute; params: Record<string, string> } | { kind: 'none' };

const ROUTE_PREFIX = 'api';

/**
 * Compiles the HTTP functions' route templates (`{name}`, `{name?}`, `{name:constraint}`,
 * `{*rest}`) under the host's default `api/` prefix. Matching is case-insensitive, as in the host.
 */
export function buildHttpRoutes(functions: readonly CapturedFunction[]): HttpRoute[] {
  const summaries = describeFunctions(functions);
  const routes: HttpRoute[] = [];
  summaries.forEach((summary, index) => {
    if (summary.trigger !== 'http' || !('route' in summary)) return;
    const paramNames: string[] = [];
    const template = summary.route.replace(/^\/+|\/+$/g, '');
    const segments = template === '' ? [] : template.split('/');
    let source = `^/${ROUTE_PREFIX}`;
    for (const segment of segments) {
      const param = /^\{(\*)?([A-Za-z_][A-Za-z0-9_]*)(?::[^}?]*)?(\?)?\}$/.exec(segment);
      if (!param) {
        source += `/${escapeRegExp(segment)}`;
        continue;
      }
      const [, catchAll, name, optional] = param;
      paramNames.push(name as string);
      if (catchAll) source += '(?:/(.*))?';
      else if (optional) source += '(?:/([^/]+))?';
      else source += '/([^/]+)';
    }
    source += '/?$';
    routes.push({
      fn: functions[index] as CapturedFunction,
      template,
      methods: new Set(summary.methods),
      pattern: new RegExp(source, 'i'),
      paramNames,
    });
  });
  return routes;
}

/**
 * Finds the function for a request. A path whose functions do not accept the method is not found
 * (404), as the Functions host answers; the function itself decides about 405 for methods it
 * registered.
 */
export function matchRoute(routes: readonly HttpRoute[], method: string, pathname: string): RouteMatch {
  const upper = method.toUpperCase();
  for (const route of routes) {
    if (!route.methods.has(upper)) continue;
    const found = route.pattern.exec(pathname);
    if (!found) continue;
    const params: Record<string, string> = {};
    route.paramNames.forEach((name, i) => {
      const value = found[i + 1];
      if (value !== undefined) params[name] = safeDecode(value);
    });
    return { kind: 'match', route, params };
  }
  return { kind: 'none' };
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

function safeDecode(value: string): string {
  try {
    return decodeURIComponent(value);
  } catch {
    return value;
  }
}
