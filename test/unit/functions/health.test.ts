import { HttpRequest, InvocationContext } from '@azure/functions';
import { createHealthHandler } from '../../../src/core/healthHandler';
import { silentLogger } from '../../../src/core/logger';
import { createHealthFunction } from '../../../src/functions/health';

describe('health function adapter', () => {
  it('answers GET /api/health through the core handler', async () => {
    const fn = createHealthFunction(createHealthHandler({ tokens: { health: () => 'ok' }, logger: silentLogger }));
    const response = await fn(
      new HttpRequest({ method: 'GET', url: 'http://127.0.0.1:7071/api/health' }),
      new InvocationContext({ logHandler: () => undefined }),
    );
    expect(response.status).toBe(200);
    expect(JSON.parse(response.body as string)).toEqual({ status: 'ok' });
    expect(response.headers).toMatchObject({ Pragma: 'no-cache' });
  });
});
