import { createUnavailableHandlers } from '../../../src/http/unavailableHandlers';
import type { CoreHttpRequest } from '../../../src/http/httpTypes';

const request = (method: string): CoreHttpRequest =>
  ({
    method,
    headers: new Headers({ authorization: 'Bearer a.b.c' }),
    query: new URLSearchParams(),
  }) as unknown as CoreHttpRequest;

describe('handlers of a broker whose settings do not parse', () => {
  const handlers = createUnavailableHandlers();

  it.each(['GET', 'POST', 'PUT', 'HEAD'])(
    'answers %s /api/token with 503 temporarily_unavailable and Retry-After',
    async (method) => {
      const res = await handlers.token(request(method));
      expect(res.status).toBe(503);
      expect(JSON.parse(res.body)).toEqual({
        error: 'temporarily_unavailable',
        error_description: 'No token can be obtained right now; try again later.',
      });
      expect(res.headers['Retry-After']).toBe('300');
      expect(res.headers['Cache-Control']).toBe('no-store');
    },
  );

  it('answers /api/health with 503 {"status":"unhealthy"}', async () => {
    const res = await handlers.health(request('GET'));
    expect(res.status).toBe(503);
    expect(JSON.parse(res.body)).toEqual({ status: 'unhealthy' });
  });

  it('hands out a fresh headers object each time (a caller cannot change the next answer)', async () => {
    const first = await handlers.token(request('GET'));
    first.headers['Retry-After'] = '1';
    expect((await handlers.token(request('GET'))).headers['Retry-After']).toBe('300');
  });
});
