import { parseRetryAfterSeconds, processTokenResponse } from '../../src/brokerExchange';
import { fakeJwt } from '../support/fakeBroker';
import { requestFailureOf } from '../support/requestFailureOf';

const context = {
  scope: 'api://third-party/.default',
  brokerScope: 'api://entra-token-broker/.default',
  callerToken: fakeJwt({ aud: 'api://entra-token-broker' }),
  sentAtMs: 1_000_000,
};

const json = (status: number, body: unknown, headers: Record<string, string> = {}): Response =>
  new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json', ...headers } });

describe('processTokenResponse', () => {
  it('reads expiry and refresh time from expires_in and refresh_in, counted from when the request was sent', async () => {
    const token = await processTokenResponse(
      json(200, { token_type: 'Bearer', access_token: 'x.y.z', expires_in: 3000, refresh_in: 1200, scope: 's' }),
      context,
      1_005_000,
    );
    expect(token).toEqual({ accessToken: 'x.y.z', expiresOnMs: 4_000_000, refreshAfterMs: 2_200_000 });
  });

  it('refreshes at half-life when refresh_in is missing', async () => {
    const token = await processTokenResponse(
      json(200, { token_type: 'bearer', access_token: 'x', expires_in: 1000 }),
      context,
      1_000_000,
    );
    expect(token.refreshAfterMs).toBe(1_500_000);
  });

  it('keeps the status, error, description and Retry-After (seconds or HTTP date) of a refusal', async () => {
    const failure = await requestFailureOf(
      processTokenResponse(
        json(429, { error: 'slow_down', error_description: 'Rate limit.' }, { 'retry-after': '7' }),
        context,
        0,
      ),
    );
    expect(failure).toMatchObject({
      code: 'throttled',
      status: 429,
      error: 'slow_down',
      error_description: 'Rate limit.',
      retryAfterSeconds: 7,
    });
    expect(failure.message).toBe(
      'The broker answered 429 slow_down for api://third-party/.default: Rate limit. Retry after 7 s.',
    );
    expect(parseRetryAfterSeconds(new Date(90_000).toUTCString(), 0)).toBe(90);
    expect(parseRetryAfterSeconds('soon', 0)).toBeUndefined();
  });

  it('names a gateway error or a non-JSON body for what it is', async () => {
    const gateway = await requestFailureOf(
      processTokenResponse(new Response('<html>Bad Gateway</html>', { status: 502 }), context, 0),
    );
    expect(gateway).toMatchObject({ code: 'unavailable', status: 502, error: undefined });
    const bug = await requestFailureOf(processTokenResponse(json(500, { error: 'server_error' }), context, 0));
    expect(bug.code).toBe('server_error');
  });

  it('tells a 401 for another audience from one for a bad caller token by the token it sent', async () => {
    const wrongAudience = { ...context, callerToken: fakeJwt({ aud: '11111111-1111-1111-1111-111111111111' }) };
    const guidScope = { ...wrongAudience, brokerScope: 'api://22222222-2222-2222-2222-222222222222/.default' };
    const refusal = json(401, {
      error: 'invalid_token',
      error_description: 'The caller token signature is not valid.',
    });
    expect((await requestFailureOf(processTokenResponse(refusal.clone(), guidScope, 0))).likelyCause).toBe('audience');
    // A v2 token carries the API's client ID even when asked for by its App ID URI: not a contradiction.
    expect((await requestFailureOf(processTokenResponse(refusal.clone(), wrongAudience, 0))).likelyCause).toBe(
      'caller_credential',
    );
  });
});
