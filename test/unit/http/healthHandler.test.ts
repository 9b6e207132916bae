import { createHealthHandler } from '../../../src/http/healthHandler';
import type { ProviderHealth } from '../../../src/tokens/tokenProvider';
import { expectContractHeaders, expectErrorBody, LogCapture, parseBody, request } from '../../support/frontDoorFixture';

const URL = 'http://127.0.0.1:7071/api/health';

function handler(health: () => ProviderHealth) {
  const logs = new LogCapture();
  return { logs, handle: createHealthHandler({ tokens: { health }, logger: logs.logger }) };
}

describe('health endpoint (docs/openapi.yaml)', () => {
  it('answers 200 {"status":"ok"} and nothing else when the provider is healthy', async () => {
    const response = await handler(() => 'ok').handle(request({ url: URL }));
    expect(response.status).toBe(200);
    expectContractHeaders(response);
    expect(parseBody(response)).toEqual({ status: 'ok' });
  });

  it('answers 503 {"status":"unhealthy"} when the provider is not', async () => {
    const response = await handler(() => 'unhealthy').handle(request({ url: URL }));
    expect(response.status).toBe(503);
    expectContractHeaders(response);
    expect(parseBody(response)).toEqual({ status: 'unhealthy' });
  });

  it("logs the provider's failure to the request's own log when the adapter gives one", async () => {
    const { handle, logs } = handler(() => {
      throw new Error('boom');
    });
    const requestLines: [string, string][] = [];
    const response = await handle(request({ url: URL }), (line, level) => requestLines.push([level, line]));
    expect(response.status).toBe(503);
    expect(logs.events('HealthCheckFailed')).toHaveLength(0);
    expect(requestLines.map(([level, line]) => [level, (JSON.parse(line) as { event: string }).event])).toEqual([
      ['error', 'HealthCheckFailed'],
    ]);
  });

  it('answers 503, not 500, when the provider throws, and logs it', async () => {
    const { handle, logs } = handler(() => {
      throw new Error('boom');
    });
    const response = await handle(request({ url: URL }));
    expect(response.status).toBe(503);
    expect(parseBody(response)).toEqual({ status: 'unhealthy' });
    expect(logs.events('HealthCheckFailed')).toHaveLength(1);
  });

  it.each(['POST', 'PUT', 'DELETE', 'HEAD', 'OPTIONS'])('answers %s with 405 and Allow: GET', async (method) => {
    const response = await handler(() => 'ok').handle(request({ url: URL, method }));
    expectErrorBody(response, 405, 'invalid_request');
    expect(response.headers.Allow).toBe('GET');
  });

  it('ignores any Authorization header and query (anonymous, discloses nothing more)', async () => {
    const response = await handler(() => 'ok').handle(
      request({ url: `${URL}?verbose=true`, headers: { Authorization: 'Bearer x.y.z' } }),
    );
    expect(parseBody(response)).toEqual({ status: 'ok' });
  });
});
