import { BrokerError } from '../../../src/contract/errors';
import fc from 'fast-check';
import type { CoreHttpRequest } from '../../../src/http/httpTypes';
import {
  computeRefreshInSeconds,
  countTopLevelKeys,
  MAX_BODY_BYTES,
  serializeTokenResponse,
  type TokenResponseBody,
} from '../../../src/http/tokenRequestHandler';
import {
  AUDIENCE_GUID,
  CALLER_APP_ID,
  createFrontDoor,
  DENIED_APP_ID,
  expectContractHeaders,
  expectErrorBody,
  type FrontDoor,
  parseBody,
  request,
  SCOPE_A,
  OTHER_TENANT,
  SCOPE_B,
  TENANT,
} from '../../support/frontDoorFixture';

const URL_BASE = 'http://127.0.0.1:7071/api/token';
const withScope = (scope: string): string => `${URL_BASE}?scope=${encodeURIComponent(scope)}`;

let f: FrontDoor;
beforeEach(() => {
  f = createFrontDoor();
});

describe('token endpoint: success (docs/openapi.yaml)', () => {
  it('serves the default scope on GET without a scope, in its configured spelling, with exactly the contract fields', async () => {
    const response = await f.handle(request({ headers: f.bearer() }));
    expect(response.status).toBe(200);
    expectContractHeaders(response);
    const body = parseBody(response);
    expect(Object.keys(body).sort()).toEqual(
      ['access_token', 'expires_in', 'expires_on', 'refresh_in', 'scope', 'token_type'].sort(),
    );
    expect(body).toMatchObject({
      token_type: 'Bearer',
      access_token: 'fake-access-token-for-tests',
      expires_in: 3600,
      expires_on: Math.floor((f.clock.now() + 3600_000) / 1000),
      scope: SCOPE_A,
    });
    expect(f.tokens.calls).toEqual([SCOPE_A]);
  });

  it.each<[string, () => CoreHttpRequest]>([
    ['GET ?scope= (another case)', () => request({ url: withScope(SCOPE_A.toLowerCase()), headers: f.bearer() })],
    [
      'POST form',
      () =>
        request({
          method: 'POST',
          headers: { ...f.bearer(), 'Content-Type': 'application/x-www-form-urlencoded' },
          body: `scope=${encodeURIComponent(SCOPE_A)}&grant_type=ignored`,
        }),
    ],
    [
      'POST form with charset',
      () =>
        request({
          method: 'POST',
          headers: { ...f.bearer(), 'Content-Type': 'application/x-www-form-urlencoded; charset=UTF-8' },
          body: `scope=${encodeURIComponent(SCOPE_A)}`,
        }),
    ],
    [
      'POST JSON with charset and unknown fields',
      () =>
        request({
          method: 'post',
          headers: { ...f.bearer(), 'Content-Type': 'Application/JSON;charset="utf-8"' },
          body: JSON.stringify({ scope: SCOPE_A, note: { scope: 'nested is not a repeat' } }),
        }),
    ],
    ['POST with an empty body', () => request({ method: 'POST', headers: f.bearer() })],
    [
      'POST with the scope in the query only',
      () => request({ method: 'POST', url: withScope(SCOPE_A), headers: f.bearer() }),
    ],
    [
      'GET with a body (ignored)',
      () => request({ headers: { ...f.bearer(), 'Content-Type': 'text/plain' }, body: 'x' }),
    ],
  ])('serves %s', async (_name, make) => {
    const response = await f.handle(make());
    expect(response.status).toBe(200);
    expect(parseBody(response).scope).toBe(SCOPE_A);
    expect(f.tokens.calls).toEqual([SCOPE_A]);
  });

  it('computes expires_in when the response is sent (whole seconds, rounded down)', async () => {
    f.tokens.lifetimeMs = 3599_900;
    const slow = f.tokens.getToken.bind(f.tokens);
    f.tokens.getToken = async (scope) => {
      const token = await slow(scope);
      f.clock.advance(2_000); // the provider took 2 s
      return token;
    };
    const body = parseBody(await f.handle(request({ headers: f.bearer() })));
    expect(body.expires_in).toBe(3597);
  });

  it('jitters refresh_in between 70 % and 100 % of the time until the broker refreshes', async () => {
    const low = createFrontDoor({ random: () => 0 });
    const high = createFrontDoor({ random: () => 0.999999 });
    expect(parseBody(await low.handle(request({ headers: low.bearer() }))).refresh_in).toBe(1260);
    expect(parseBody(await high.handle(request({ headers: high.bearer() }))).refresh_in).toBe(1799);
  });

  it('refuses to hand out a token with less than the minimum lifetime (503)', async () => {
    f.tokens.lifetimeMs = 100_000;
    const response = await f.handle(request({ headers: f.bearer() }));
    const body = expectErrorBody(response, 503, 'temporarily_unavailable');
    expect(JSON.stringify(body)).not.toContain(f.tokens.accessToken);
    expect(response.headers['Retry-After']).toMatch(/^\d+$/);
  });
});

describe('token response serialization (the access token is JSON-escaped once per token)', () => {
  it('serves the new token, not the remembered JSON of the old one, when the provider hands out another', async () => {
    const first = parseBody(await f.handle(request({ headers: f.bearer() })));
    expect(first.access_token).toBe('fake-access-token-for-tests');
    f.tokens.accessToken = 'a-refreshed-token-with-"quotes"-and-\\-and-\u2028';
    const second = parseBody(await f.handle(request({ headers: f.bearer() })));
    expect(second.access_token).toBe('a-refreshed-token-with-"quotes"-and-\\-and-\u2028');
  });

  it('writes exactly what JSON.stringify writes, for any token, scope and numbers', () => {
    fc.assert(
      fc.property(
        fc.string({ unit: 'binary' }),
        fc.string({ unit: 'binary' }),
        fc.integer(),
        fc.integer(),
        fc.integer(),
        (token, scope, expiresIn, expiresOn, refreshIn) => {
          const body: TokenResponseBody = {
            token_type: 'Bearer',
            access_token: token,
            expires_in: expiresIn,
            expires_on: expiresOn,
            scope,
            refresh_in: refreshIn,
          };
          expect(serializeTokenResponse(body, JSON.stringify(token))).toBe(JSON.stringify(body));
        },
      ),
    );
  });
});

describe('computeRefreshInSeconds', () => {
  const served = (refreshInMs: number) => ({
    accessToken: 'x',
    expiresOnMs: 3600_000,
    refreshAtMs: refreshInMs,
    scope: SCOPE_A,
    cacheHit: true,
  });
  it('stays at least 1 and below expires_in − min lifetime', () => {
    for (const r of [0, 0.3, 0.99]) {
      for (const refreshAt of [-5_000, 0, 10_000, 1800_000, 3500_000, 9999_000]) {
        const value = computeRefreshInSeconds(served(refreshAt), 0, 3600, 300, () => r);
        expect(value).toBeGreaterThanOrEqual(1);
        expect(value).toBeLessThan(3300);
        expect(Number.isInteger(value)).toBe(true);
      }
    }
  });
  it('asks an overdue refresh back within a minute, not every second', () => {
    expect(computeRefreshInSeconds(served(-1), 0, 3000, 300, () => 0)).toBe(42);
  });
  it('survives a random source outside [0, 1)', () => {
    expect(computeRefreshInSeconds(served(1000_000), 0, 3600, 300, () => Number.NaN)).toBe(850);
  });
});

describe('token endpoint: caller token placement and 401s', () => {
  it('answers 401 with a bare WWW-Authenticate: Bearer when no token is sent', async () => {
    const response = await f.handle(request());
    expectErrorBody(response, 401, 'invalid_token');
    expect(response.headers['WWW-Authenticate']).toBe('Bearer');
    expect(f.tokens.calls).toEqual([]);
  });

  it.each(['Basic dXNlcjpwYXNz', 'Bearer', 'Bearer  '])('answers 401 for Authorization "%s"', async (value) => {
    const response = await f.handle(request({ headers: { Authorization: value } }));
    expectErrorBody(response, 401, 'invalid_token');
    expect(response.headers['WWW-Authenticate']).toBe('Bearer');
  });

  it('answers 401 invalid_token with the error in WWW-Authenticate for a bad token', async () => {
    const response = await f.handle(request({ headers: f.bearer(f.jwt.unsigned()) }));
    expectErrorBody(response, 401, 'invalid_token');
    expect(response.headers['WWW-Authenticate']).toBe('Bearer error="invalid_token"');
  });

  it('never trusts Easy Auth principal headers in place of a verified token', async () => {
    const principal = Buffer.from(
      JSON.stringify({
        auth_typ: 'aad',
        claims: [
          { typ: 'azp', val: CALLER_APP_ID },
          { typ: 'roles', val: 'Token.Request' },
        ],
      }),
    ).toString('base64');
    const response = await f.handle(
      request({
        headers: {
          'X-MS-CLIENT-PRINCIPAL': principal,
          'X-MS-CLIENT-PRINCIPAL-ID': CALLER_APP_ID,
          'X-MS-CLIENT-PRINCIPAL-IDP': 'aad',
          'X-MS-TOKEN-AAD-ACCESS-TOKEN': f.jwt.sign(),
        },
      }),
    );
    expectErrorBody(response, 401, 'invalid_token');
    expect(f.tokens.calls).toEqual([]);
  });

  it('answers 401 for a bad token even when the scope is malformed too', async () => {
    const response = await f.handle(request({ url: withScope('bad scope'), headers: f.bearer('a.b.c') }));
    expectErrorBody(response, 401, 'invalid_token');
  });

  it('refuses a token in the query string (400), even next to a good header', async () => {
    const token = f.jwt.sign();
    for (const headers of [{}, f.bearer(token)]) {
      const response = await f.handle(request({ url: `${URL_BASE}?access_token=${token}`, headers }));
      const body = expectErrorBody(response, 400, 'invalid_request');
      expect(JSON.stringify(body)).not.toContain(token);
    }
    expect(f.tokens.calls).toEqual([]);
  });

  it.each([
    ['form', 'application/x-www-form-urlencoded', (t: string) => `access_token=${t}`],
    ['JSON', 'application/json', (t: string) => JSON.stringify({ access_token: t })],
  ])('refuses a token in a %s body (400)', async (_name, type, body) => {
    const response = await f.handle(
      request({ method: 'POST', headers: { ...f.bearer(), 'Content-Type': type }, body: body(f.jwt.sign()) }),
    );
    expectErrorBody(response, 400, 'invalid_request');
    expect(f.tokens.calls).toEqual([]);
  });

  it('answers 503 with Retry-After, not 401, when the caller keys cannot be fetched', async () => {
    f.jwks.mode = 'network';
    const response = await f.handle(request({ headers: f.bearer() }));
    expectErrorBody(response, 503, 'temporarily_unavailable');
    expect(response.headers['Retry-After']).toMatch(/^[1-9]\d*$/);
  });
});

describe('token endpoint: 403 insufficient_scope', () => {
  const forbidden = async (response: ReturnType<FrontDoor['handle']>): Promise<void> => {
    const answer = await response;
    expectErrorBody(answer, 403, 'insufficient_scope');
    expect(answer.headers['WWW-Authenticate']).toBe('Bearer error="insufficient_scope"');
    expect(f.tokens.calls).toEqual([]);
  };

  it('for a delegated token', async () => {
    await forbidden(f.handle(request({ headers: f.bearer(f.jwt.sign(f.jwt.claims({ scp: 'user_impersonation' }))) })));
  });
  it('for a token without the required role', async () => {
    await forbidden(f.handle(request({ headers: f.bearer(f.jwt.sign(f.jwt.claims({ roles: [] }))) })));
  });
  it('for a caller missing from CALLER_POLICY (deny by default)', async () => {
    const stranger = f.jwt.sign(f.jwt.claims({ azp: '12345678-1234-4234-8234-123456789abc' }));
    await forbidden(f.handle(request({ headers: f.bearer(stranger) })));
  });
  it('for a caller allowed nothing', async () => {
    await forbidden(f.handle(request({ headers: f.bearer(f.jwt.sign(f.jwt.claims({ azp: DENIED_APP_ID }))) })));
  });
  it('for a served scope the caller is not granted', async () => {
    await forbidden(f.handle(request({ url: withScope(SCOPE_B), headers: f.bearer() })));
  });
  it('for a well-formed scope the broker does not serve', async () => {
    await forbidden(f.handle(request({ url: withScope('api://unknown-api/.default'), headers: f.bearer() })));
  });
});

describe('token endpoint: malformed scopes → 400 before anything goes upstream', () => {
  it.each([
    ['empty', ''],
    ['a space', 'api://third-party-api/.default openid'],
    ['a control character', 'api://third-party-api/\u0000.default'],
    ['a newline', 'api://third-party-api/.default\r\nX-Evil: 1'],
    ['not /.default', 'api://third-party-api/read'],
    ['only /.default', '/.default'],
    ['non-ASCII', 'api://thïrd-party-api/.default'],
    ['a quote', 'api://third"party/.default'],
    ['over 512 characters', `api://${'a'.repeat(510)}/.default`],
  ])('%s', async (_name, scope) => {
    for (const make of [
      () => request({ url: withScope(scope), headers: f.bearer() }),
      () =>
        request({
          method: 'POST',
          headers: { ...f.bearer(), 'Content-Type': 'application/json' },
          body: JSON.stringify({ scope }),
        }),
    ]) {
      const response = await f.handle(make());
      const body = expectErrorBody(response, 400, 'invalid_request');
      // The description is ours; it never quotes the scope back.
      if (scope.length > 10) expect(String(body.error_description)).not.toContain(scope.slice(0, 20));
    }
    expect(f.tokens.calls).toEqual([]);
  });
});

describe('token endpoint: methods, bodies, parameters', () => {
  it.each(['PUT', 'PATCH', 'DELETE', 'HEAD', 'OPTIONS', 'TRACE', 'FOO'])(
    'answers %s with 405 and Allow: GET, POST, before looking at the token',
    async (method) => {
      const response = await f.handle(request({ method }));
      expectErrorBody(response, 405, 'invalid_request');
      expect(response.headers.Allow).toBe('GET, POST');
    },
  );

  it.each([
    ['text/plain', 'scope=x'],
    ['application/xml', '<scope/>'],
    ['multipart/form-data; boundary=x', '--x--'],
    ['application/x-www-form-urlencoded; charset=iso-8859-1', 'scope=x'],
    ['application/json; charset=utf-16', '{}'],
  ])('answers 415 for Content-Type %s', async (type, body) => {
    const response = await f.handle(
      request({ method: 'POST', headers: { ...f.bearer(), 'Content-Type': type }, body }),
    );
    expectErrorBody(response, 415, 'invalid_request');
  });

  it('answers 415 for a body without a Content-Type', async () => {
    expectErrorBody(
      await f.handle(request({ method: 'POST', headers: f.bearer(), body: 'scope=x' })),
      415,
      'invalid_request',
    );
  });

  it('answers 413 from Content-Length alone, without reading the body', async () => {
    const text = jest.fn(async () => '');
    const req = {
      ...request({ method: 'POST', headers: { ...f.bearer(), 'Content-Length': String(MAX_BODY_BYTES + 1) } }),
      text,
    };
    expectErrorBody(await f.handle(req), 413, 'invalid_request');
    expect(text).not.toHaveBeenCalled();
  });

  it('answers 413 for a body over 4 KB that does not declare its length', async () => {
    const body = `scope=${'a'.repeat(MAX_BODY_BYTES)}`;
    const response = await f.handle(
      request({
        method: 'POST',
        headers: { ...f.bearer(), 'Content-Type': 'application/x-www-form-urlencoded' },
        body,
      }),
    );
    expectErrorBody(response, 413, 'invalid_request');
  });

  it('accepts a body of exactly 4 KB', async () => {
    const body = JSON.stringify({ scope: SCOPE_A, pad: 'x'.repeat(MAX_BODY_BYTES - 60) }).padEnd(MAX_BODY_BYTES, ' ');
    expect(Buffer.byteLength(body)).toBe(MAX_BODY_BYTES);
    const response = await f.handle(
      request({ method: 'POST', headers: { ...f.bearer(), 'Content-Type': 'application/json' }, body }),
    );
    expect(response.status).toBe(200);
  });

  it.each([
    ['invalid JSON', '{"scope": '],
    ['a JSON array', '[]'],
    ['JSON null', 'null'],
    ['a JSON string', '"api://x/.default"'],
    ['a numeric scope', '{"scope": 42}'],
    ['a null scope', '{"scope": null}'],
    ['an array scope', `{"scope": ["${SCOPE_A}"]}`],
    ['a repeated scope key', `{"scope": "${SCOPE_A}", "scope": "${SCOPE_B}"}`],
    ['a repeated scope key in escaped form', `{"scope": "${SCOPE_A}", "\\u0073cope": "${SCOPE_A}"}`],
  ])('answers 400 for %s', async (_name, body) => {
    const response = await f.handle(
      request({ method: 'POST', headers: { ...f.bearer(), 'Content-Type': 'application/json' }, body }),
    );
    expectErrorBody(response, 400, 'invalid_request');
    expect(f.tokens.calls).toEqual([]);
  });

  it.each<[string, () => CoreHttpRequest]>([
    ['a repeated query scope', () => request({ url: `${withScope(SCOPE_A)}&scope=${SCOPE_A}`, headers: f.bearer() })],
    [
      'a repeated form scope',
      () =>
        request({
          method: 'POST',
          headers: { ...f.bearer(), 'Content-Type': 'application/x-www-form-urlencoded' },
          body: `scope=${SCOPE_A}&scope=${SCOPE_A}`,
        }),
    ],
    [
      'a scope in both the query and the body',
      () =>
        request({
          method: 'POST',
          url: withScope(SCOPE_A),
          headers: { ...f.bearer(), 'Content-Type': 'application/x-www-form-urlencoded' },
          body: `scope=${SCOPE_A}`,
        }),
    ],
  ])('answers 400 for %s', async (_name, make) => {
    expectErrorBody(await f.handle(make()), 400, 'invalid_request');
    expect(f.tokens.calls).toEqual([]);
  });
});

describe('token endpoint: rate limit, dependencies, bugs', () => {
  it('answers 429 slow_down with Retry-After once the caller exceeds its limit, per caller', async () => {
    f = createFrontDoor({ settings: { CALLER_RATE_LIMIT_PER_MINUTE: '6' } }); // 6 at once, then one per 10 s
    for (let i = 0; i < 6; i++) expect((await f.handle(request({ headers: f.bearer() }))).status).toBe(200);
    const limited = await f.handle(request({ headers: f.bearer() }));
    expectErrorBody(limited, 429, 'slow_down');
    expect(limited.headers['Retry-After']).toBe('10');
    // Another caller has its own bucket (its policy then refuses it: 403, not 429).
    const other = f.jwt.sign(f.jwt.claims({ azp: DENIED_APP_ID }));
    expect((await f.handle(request({ headers: f.bearer(other) }))).status).toBe(403);
    f.clock.advance(10_000);
    expect((await f.handle(request({ headers: f.bearer() }))).status).toBe(200);
  });

  it('with several caller tenants, the same app ID in each tenant has its own bucket and its own policy entry', async () => {
    f = createFrontDoor({
      settings: {
        CALLER_RATE_LIMIT_PER_MINUTE: '2',
        CALLER_TENANTS: `${TENANT},${OTHER_TENANT}`,
        CALLER_POLICY: JSON.stringify({
          [`${TENANT}/${CALLER_APP_ID}`]: [SCOPE_A],
          [`${OTHER_TENANT}/${CALLER_APP_ID}`]: [SCOPE_A],
        }),
      },
    });
    for (let i = 0; i < 2; i++) expect((await f.handle(request({ headers: f.bearer() }))).status).toBe(200);
    expectErrorBody(await f.handle(request({ headers: f.bearer() })), 429, 'slow_down');
    // The same app ID from the other tenant (which must name the broker API's app ID as audience).
    const other = f.jwt.sign(
      f.jwt.claims({ tid: OTHER_TENANT, iss: `https://sts.windows.net/${OTHER_TENANT}/`, aud: AUDIENCE_GUID }),
    );
    expect((await f.handle(request({ headers: f.bearer(other) }))).status).toBe(200);
  });

  it('answers 503 temporarily_unavailable with the engine’s Retry-After, never quoting upstream text', async () => {
    f.tokens.failure = new BrokerError('entra_configuration', 'AADSTS700016: Application not found in tenant', {
      retryAfterSeconds: 42,
      upstreamError: 'unauthorized_client',
    });
    const response = await f.handle(request({ headers: f.bearer() }));
    const body = expectErrorBody(response, 503, 'temporarily_unavailable');
    expect(response.headers['Retry-After']).toBe('42');
    expect(JSON.stringify(body)).not.toMatch(/AADSTS|unauthorized_client|Application/);
  });

  it('caps an absurd Retry-After and defaults a missing one', async () => {
    f.tokens.failure = new BrokerError('entra_throttled', 'throttled', { retryAfterSeconds: 86_400 });
    expect((await f.handle(request({ headers: f.bearer() }))).headers['Retry-After']).toBe('300');
    f.tokens.failure = new BrokerError('keyvault_transient', 'vault down');
    expect((await f.handle(request({ headers: f.bearer() }))).headers['Retry-After']).toBe('5');
  });

  it('answers a bug with a bare 500 server_error, logged once with its stack', async () => {
    f.tokens.failure = new TypeError('cannot read properties of undefined (client_secret=hunter2-canary)');
    const response = await f.handle(request({ headers: f.bearer() }));
    const body = expectErrorBody(response, 500, 'server_error');
    expect(JSON.stringify(body)).not.toMatch(/undefined|hunter2/);
    const unexpected = f.logs.events('UnexpectedError');
    expect(unexpected).toHaveLength(1);
    expect(JSON.stringify(unexpected[0])).toContain('stack');
    expect(f.logs.lines.join('\n')).not.toContain('hunter2');
  });

  it('answers 500 even when the request object itself misbehaves', async () => {
    const broken = { ...request({ headers: f.bearer() }), query: undefined as unknown as URLSearchParams };
    expectErrorBody(await f.handle(broken), 500, 'server_error');
  });
});

describe('token endpoint: no caller input in headers; audit line', () => {
  it('never reflects request input into response headers', async () => {
    const evil = 'x\r\nSet-Cookie: a=b';
    const requests = [
      request({ method: evil }),
      request({ url: withScope(evil), headers: f.bearer() }),
      request({ headers: { Authorization: `Bearer ${evil.replace(/\r\n/g, '')}` } }),
      request({ method: 'POST', headers: { ...f.bearer(), 'Content-Type': 'text/evil' }, body: evil }),
    ];
    for (const req of requests) {
      const response = await f.handle(req);
      expectContractHeaders(response);
      for (const value of Object.values(response.headers)) {
        expect(value).not.toMatch(/evil|Set-Cookie|a=b|\r|\n/);
      }
    }
  });

  it('writes one TokenRequest line per request with the caller, scope, outcome, cache hit and latency', async () => {
    const token = f.jwt.sign();
    await f.handle(request({ url: withScope(SCOPE_A.toLowerCase()), headers: f.bearer(token) }));
    await f.handle(request({ url: withScope(SCOPE_B), headers: f.bearer(token) }));
    await f.handle(request());
    const lines = f.logs.events('TokenRequest');
    expect(lines).toHaveLength(3);
    expect(lines[0]).toMatchObject({
      component: 'broker.TokenEndpoint',
      method: 'GET',
      status: 200,
      tid: TENANT,
      azp: CALLER_APP_ID,
      oid: '0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d',
      scope: SCOPE_A.toLowerCase(),
      cacheHit: true,
      latencyMs: 0,
    });
    expect(lines[0]?.tokenHash).toMatch(/^[0-9a-f]{12}$/);
    expect(lines[1]).toMatchObject({ status: 403, error: 'insufficient_scope', errorCode: 'caller_forbidden' });
    expect(lines[2]).toMatchObject({ status: 401, errorCode: 'caller_token_missing' });
    expect(lines[2]?.tid).toBeUndefined();
    const all = f.logs.lines.join('\n');
    expect(all).not.toContain(token);
    expect(all).not.toContain(f.tokens.accessToken);
    expect(all).not.toContain('eyJ');
  });

  it("writes the audit line to the request's own log when the adapter gives one, not the broker's", async () => {
    const requestLines: [string, string][] = [];
    await f.handle(request({ headers: f.bearer() }), (line, level) => requestLines.push([level, line]));
    await f.handle(request(), (line, level) => requestLines.push([level, line]));
    expect(f.logs.events('TokenRequest')).toEqual([]);
    expect(requestLines.map(([level, line]) => [level, JSON.parse(line) as Record<string, unknown>])).toEqual([
      ['info', expect.objectContaining({ component: 'broker.TokenEndpoint', event: 'TokenRequest', status: 200 })],
      ['info', expect.objectContaining({ event: 'TokenRequest', status: 401, errorCode: 'caller_token_missing' })],
    ]);
  });

  it('logs only the size of a malformed scope (it could be anything, a pasted secret included)', async () => {
    await f.handle(request({ url: withScope(`api://${'a'.repeat(600)}/.default`), headers: f.bearer() }));
    await f.handle(request({ url: withScope('my secret value'), headers: f.bearer() }));
    expect(f.logs.events('TokenRequest').map((line) => line.scope)).toEqual([
      '[invalid scope, 615 chars]',
      '[invalid scope, 15 chars]',
    ]);
  });

  it('keeps every audit line on one line, whatever the input', async () => {
    await f.handle(request({ method: 'GET\r\nX: y', headers: f.bearer() }));
    await f.handle(request({ url: withScope('a\nb/.default'), headers: f.bearer() }));
    expect(f.logs.lines.length).toBeGreaterThanOrEqual(2);
    for (const line of f.logs.lines) expect(line).not.toMatch(/[\r\n]/);
  });
});

describe('countTopLevelKeys', () => {
  it.each([
    ['{"scope":"a"}', 1],
    ['{"scope":"a","scope":"b"}', 2],
    ['{"a":{"scope":"x"},"b":["scope"],"scope" : "y"}', 1],
    ['{"x":"\\"scope\\"","scope":"y"}', 1],
    ['{"\\u0073cope":"a","scope":"b"}', 2],
    ['{}', 0],
  ])('%s → %i', (json, expected) => {
    expect(countTopLevelKeys(json, 'scope')).toBe(expected);
  });
});
