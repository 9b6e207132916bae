import { HttpRequest, InvocationContext } from '@azure/functions';
import { createHttpFunction } from '../../../src/functions/httpFunction';
import { createHealthHandler } from '../../../src/http/healthHandler';
import { silentLogger } from '../../support/silentLogger';
import { createFrontDoor, SCOPE_A } from '../../support/frontDoorFixture';

const context = (): InvocationContext => new InvocationContext({ logHandler: () => undefined });

describe('HTTP function adapter', () => {
  it('passes the host request to the core handler and returns its answer unchanged', async () => {
    const f = createFrontDoor();
    const fn = createHttpFunction(f.handle);
    const request = new HttpRequest({
      method: 'POST',
      url: 'http://127.0.0.1:7071/api/token',
      headers: { authorization: `Bearer ${f.jwt.sign()}`, 'content-type': 'application/json' },
      body: { string: JSON.stringify({ scope: SCOPE_A.toLowerCase() }) },
    });
    const response = await fn(request, context());
    expect(response.status).toBe(200);
    expect(response.headers).toMatchObject({
      'Content-Type': 'application/json; charset=utf-8',
      'Cache-Control': 'no-store',
    });
    expect(JSON.parse(response.body as string)).toMatchObject({ scope: SCOPE_A, token_type: 'Bearer' });
  });

  it('reads query parameters and headers of a real HttpRequest', async () => {
    const f = createFrontDoor();
    const fn = createHttpFunction(f.handle);
    const request = new HttpRequest({
      method: 'GET',
      url: `http://127.0.0.1:7071/api/token?scope=${encodeURIComponent(SCOPE_A)}&scope=x`,
      headers: { Authorization: `Bearer ${f.jwt.sign()}` },
    });
    const response = await fn(request, context());
    expect(response.status).toBe(400);
  });

  it('still answers the contract 500 if the core handler throws', async () => {
    const fn = createHttpFunction(async () => {
      throw new Error('bug');
    });
    const response = await fn(new HttpRequest({ method: 'GET', url: 'http://127.0.0.1/api/token' }), context());
    expect(response.status).toBe(500);
    expect(response.headers).toMatchObject({ 'Cache-Control': 'no-store', 'X-Content-Type-Options': 'nosniff' });
    expect(JSON.parse(response.body as string)).toEqual({
      error: 'server_error',
      error_description: 'The broker failed unexpectedly.',
    });
  });
});

describe('health function adapter', () => {
  it('answers GET /api/health through the core handler', async () => {
    const fn = createHttpFunction(createHealthHandler({ tokens: { health: () => 'ok' }, logger: silentLogger }));
    const response = await fn(
      new HttpRequest({ method: 'GET', url: 'http://127.0.0.1:7071/api/health' }),
      new InvocationContext({ logHandler: () => undefined }),
    );
    expect(response.status).toBe(200);
    expect(JSON.parse(response.body as string)).toEqual({ status: 'ok' });
    expect(response.headers).toMatchObject({ Pragma: 'no-cache' });
  });
});
