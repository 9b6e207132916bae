import { createHttpHeaders, createPipelineRequest, RestError } from '@azure/core-rest-pipeline';
import type { PipelineResponse } from '@azure/core-rest-pipeline';
import { HttpExchangeRecorder } from '../../../src/tokens/httpExchangeRecorder';

const TOKEN_URL = 'https://127.0.0.1:1/tenant/oauth2/v2.0/token?x=1';

function respond(status: number, body: string, headers: Record<string, string> = {}) {
  return async (request: ReturnType<typeof createPipelineRequest>): Promise<PipelineResponse> => ({
    request,
    status,
    headers: createHttpHeaders(headers),
    bodyAsText: body,
  });
}

describe('HttpExchangeRecorder', () => {
  it('records status, Retry-After and OAuth error codes, but no free text or body', async () => {
    const recorder = new HttpExchangeRecorder();
    const body = JSON.stringify({
      error: 'temporarily_unavailable',
      error_description: 'AADSTS50196: loop detected, secret=hunter2',
      error_codes: [50196],
      correlation_id: 'c0ffee00-0000-4000-8000-000000000001',
      trace_id: 't0ffee00-0000-4000-8000-000000000002'.replace('t', 'a'),
    });
    const request = createPipelineRequest({ url: TOKEN_URL, method: 'POST' });
    await recorder.policy.policy.sendRequest(
      request,
      respond(429, body, { 'retry-after': '7', 'content-type': 'application/json' }),
    );
    const exchange = recorder.last('/oauth2/v2.0/token');
    expect(exchange).toMatchObject({
      method: 'POST',
      path: '/tenant/oauth2/v2.0/token',
      status: 429,
      retryAfter: '7',
      upstreamError: 'temporarily_unavailable',
      aadsts: 50196,
      correlationId: 'c0ffee00-0000-4000-8000-000000000001',
      jsonBody: true,
    });
    expect(JSON.stringify(recorder.exchanges)).not.toContain('hunter2');
  });

  it('checks expires_in of a 200 token answer without keeping the token', async () => {
    const recorder = new HttpExchangeRecorder();
    const send = (body: unknown) =>
      recorder.policy.policy.sendRequest(createPipelineRequest({ url: TOKEN_URL }), respond(200, JSON.stringify(body)));
    await send({ access_token: 'eyJsecret', expires_in: 3599 });
    expect(recorder.last()?.expiresInValid).toBe(true);
    await send({ access_token: 'eyJsecret', expires_in: '3599' });
    expect(recorder.last()?.expiresInValid).toBe(true);
    for (const bad of ['soon', -1, 0, 1.5, null]) {
      await send({ access_token: 'eyJsecret', expires_in: bad });
      expect(recorder.last()?.expiresInValid).toBe(false);
    }
    await send({ access_token: 'eyJsecret' });
    expect(recorder.last()?.expiresInValid).toBe(false);
    expect(JSON.stringify(recorder.exchanges)).not.toContain('eyJsecret');
  });

  it('records a network failure code and rethrows the original error', async () => {
    const recorder = new HttpExchangeRecorder();
    const failure = new RestError('connect ECONNREFUSED', { code: 'ECONNREFUSED' });
    await expect(
      recorder.policy.policy.sendRequest(createPipelineRequest({ url: TOKEN_URL }), async () => {
        throw failure;
      }),
    ).rejects.toBe(failure);
    expect(recorder.last()).toMatchObject({ status: undefined, networkErrorCode: 'ECONNREFUSED' });
  });

  it('abort() cancels the request in flight and refuses later ones', async () => {
    const recorder = new HttpExchangeRecorder();
    let seen: AbortSignal | undefined;
    const inFlight = recorder.policy.policy.sendRequest(createPipelineRequest({ url: TOKEN_URL }), (request) => {
      seen = request.abortSignal as AbortSignal;
      return new Promise((_, reject) => seen!.addEventListener('abort', () => reject(new Error('aborted'))));
    });
    recorder.abort();
    await expect(inFlight).rejects.toThrow('aborted');
    expect(seen?.aborted).toBe(true);
    await expect(
      recorder.policy.policy.sendRequest(createPipelineRequest({ url: TOKEN_URL }), respond(200, '{}')),
    ).rejects.toMatchObject({ name: 'AbortError' });
  });

  it('last(suffix) finds the last exchange with that path', async () => {
    const recorder = new HttpExchangeRecorder();
    await recorder.policy.policy.sendRequest(
      createPipelineRequest({ url: 'https://h/t/v2.0/.well-known/openid-configuration', method: 'GET' }),
      respond(200, '{}'),
    );
    await recorder.policy.policy.sendRequest(
      createPipelineRequest({ url: TOKEN_URL, method: 'POST' }),
      respond(500, ''),
    );
    expect(recorder.last('/.well-known/openid-configuration')?.status).toBe(200);
    expect(recorder.last('/oauth2/v2.0/token')?.status).toBe(500);
    expect(recorder.last('/nothing')).toBeUndefined();
  });
});
