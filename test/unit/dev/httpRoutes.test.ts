import type { CapturedFunction } from '../../../dev/host/functionRegistry';
import { buildHttpRoutes, matchRoute } from '../../../dev/host/httpRoutes';

function httpFunction(name: string, methods: string[], route?: string): CapturedFunction {
  return {
    name,
    bindings: {
      httpTrigger1: {
        type: 'httpTrigger',
        direction: 'in',
        name: 'httpTrigger1',
        methods,
        authLevel: 'anonymous',
        route,
      },
      $return: { type: 'http', direction: 'out', name: '$return' },
    },
    handler: () => undefined,
  };
}

const timerFunction: CapturedFunction = {
  name: 'warmup',
  bindings: {
    timerTrigger: { type: 'timerTrigger', direction: 'in', name: 'timerTrigger', schedule: '0 */5 * * * *' },
  },
  handler: () => undefined,
};

describe('local host routing', () => {
  const routes = buildHttpRoutes([
    httpFunction('token', ['GET', 'POST']),
    httpFunction('item', ['GET'], 'items/{id}/{rest?}'),
    httpFunction('files', ['GET'], 'files/{*path}'),
    timerFunction,
  ]);

  it('serves a function under /api/<name> when it registered no route, case-insensitively', () => {
    const match = matchRoute(routes, 'post', '/API/Token');
    expect(match.kind === 'match' && match.route.fn.name).toBe('token');
    expect(matchRoute(routes, 'GET', '/api/token/').kind).toBe('match');
  });

  it('answers "not found" for a method the function did not register, as the Functions host does (404)', () => {
    expect(matchRoute(routes, 'DELETE', '/api/token').kind).toBe('none');
  });

  it('does not serve paths outside the api/ prefix or timer functions', () => {
    expect(matchRoute(routes, 'GET', '/token').kind).toBe('none');
    expect(matchRoute(routes, 'GET', '/api/warmup').kind).toBe('none');
  });

  it('binds route parameters, optional ones included, decoded', () => {
    const full = matchRoute(routes, 'GET', '/api/items/a%20b/c');
    expect(full.kind === 'match' && full.params).toEqual({ id: 'a b', rest: 'c' });
    const partial = matchRoute(routes, 'GET', '/api/items/42');
    expect(partial.kind === 'match' && partial.params).toEqual({ id: '42' });
    expect(matchRoute(routes, 'GET', '/api/items').kind).toBe('none');
  });

  it('binds a catch-all parameter across segments', () => {
    const match = matchRoute(routes, 'GET', '/api/files/a/b/c.txt');
    expect(match.kind === 'match' && match.params).toEqual({ path: 'a/b/c.txt' });
  });
});
