/**
 * random methods, headers, bodies, scopes and tokens thrown at the token endpoint. Whatever
 * arrives: never a 500, never a token without a valid caller, always contract-shaped JSON with the
 * required headers and no caller input in a header.
 */
import fc from 'fast-check';
import { BrokerError } from '../../src/contract/errors';
import type { CoreHttpRequest, CoreHttpResponse } from '../../src/http/httpTypes';
import { createFrontDoor, DENIED_APP_ID, type FrontDoor, SCOPE_A, SCOPE_B } from '../support/frontDoorFixture';

const ERROR_FOR_STATUS: Readonly<Record<number, string[]>> = {
  400: ['invalid_request'],
  401: ['invalid_token'],
  403: ['insufficient_scope'],
  405: ['invalid_request'],
  413: ['invalid_request'],
  415: ['invalid_request'],
  429: ['slow_down'],
  503: ['temporarily_unavailable'],
};

interface Case {
  method: string;
  authorization: { value: string | undefined; valid: boolean };
  query: [string, string][];
  content: [string | undefined, string];
  contentLength: string | undefined;
  providerFails: boolean;
}

function makeRequest(c: Case): CoreHttpRequest {
  const url = new URL('http://127.0.0.1:7071/api/token');
  for (const [name, value] of c.query) url.searchParams.append(name, value);
  // A plain map rather than Headers: lets through values a strict Headers would refuse.
  const headers: Record<string, string> = {};
  if (c.authorization.value !== undefined) headers.authorization = c.authorization.value;
  const [contentType, body] = c.content;
  if (contentType !== undefined) headers['content-type'] = contentType;
  if (c.contentLength !== undefined) headers['content-length'] = c.contentLength;
  return {
    method: c.method,
    url: url.href,
    headers: { get: (name: string) => headers[name.toLowerCase()] ?? null },
    query: url.searchParams,
    text: async () => body,
  };
}

function tokenArbitrary(f: FrontDoor): fc.Arbitrary<{ value: string | undefined; valid: boolean }> {
  const good = f.jwt.sign();
  const goodV1 = f.jwt.sign(f.jwt.v1Claims());
  const bad = [
    f.jwt.sign(f.jwt.claims({ scp: 'user_impersonation' })),
    f.jwt.sign(f.jwt.claims({ azp: DENIED_APP_ID })),
    f.jwt.sign(f.jwt.claims({ roles: [] })),
    f.jwt.sign(f.jwt.claims({ aud: 'api://other' })),
    f.jwt.sign(f.jwt.claims({ exp: 1 })),
    f.jwt.unsigned(),
    f.jwt.hs256WithPublicKey(),
    good.slice(0, -5),
  ];
  const validHeader = fc
    .tuple(fc.constantFrom(good, goodV1), fc.constantFrom('Bearer', 'bearer', 'BEARER'))
    .map(([token, scheme]) => ({ value: `${scheme} ${token}`, valid: true }));
  const invalidHeader = fc.oneof(
    fc.constant({ value: undefined, valid: false }),
    fc.constantFrom(...bad).map((token) => ({ value: `Bearer ${token}`, valid: false })),
    fc.string({ maxLength: 100 }).map((value) => ({ value, valid: false })),
    fc.string({ unit: 'grapheme', maxLength: 100 }).map((value) => ({ value: `Bearer ${value}`, valid: false })),
    fc
      .tuple(fc.base64String(), fc.base64String(), fc.base64String())
      .map(([a, b, c]) => ({ value: `Bearer ${a}.${b}.${c}`, valid: false })),
    fc.constant({ value: `Bearer ${'a'.repeat(9000)}.b.c`, valid: false }),
  );
  return fc.oneof({ arbitrary: validHeader, weight: 3 }, { arbitrary: invalidHeader, weight: 2 });
}

const scopeArbitrary = fc.oneof(
  fc.constantFrom(SCOPE_A, SCOPE_A.toLowerCase(), SCOPE_A.toUpperCase(), SCOPE_B, 'api://unknown/.default', ''),
  fc.string({ maxLength: 40 }),
  fc.string({ unit: 'grapheme', maxLength: 40 }).map((s) => `api://${s}/.default`),
  fc.constant(`api://${'x'.repeat(600)}/.default`),
);

function caseArbitrary(f: FrontDoor): fc.Arbitrary<Case> {
  return fc.record({
    method: fc.oneof(
      { arbitrary: fc.constantFrom('GET', 'POST', 'get', 'post'), weight: 4 },
      { arbitrary: fc.constantFrom('PUT', 'DELETE', 'HEAD', 'OPTIONS', 'PATCH'), weight: 1 },
      { arbitrary: fc.string({ maxLength: 10 }), weight: 1 },
    ),
    authorization: tokenArbitrary(f),
    query: fc.array(
      fc.oneof(
        scopeArbitrary.map((scope): [string, string] => ['scope', scope]),
        fc.string({ maxLength: 20 }).map((token): [string, string] => ['access_token', token]),
        fc.tuple(fc.string({ maxLength: 10 }), fc.string({ maxLength: 10 })),
      ),
      { maxLength: 3 },
    ),
    content: fc.oneof(
      // Well-typed bodies, so that parsing and scope checks are reached often.
      fc.tuple(
        fc.constantFrom('application/json', 'application/json; charset=utf-8', 'APPLICATION/JSON'),
        fc.oneof(
          scopeArbitrary.map((scope) => JSON.stringify({ scope })),
          fc.jsonValue({ maxDepth: 2 }).map((scope) => JSON.stringify({ scope })),
          scopeArbitrary.map((scope) => `{"scope":${JSON.stringify(scope)},"scope":"${SCOPE_A}"}`),
          fc.json({ maxDepth: 2 }),
          fc.string({ maxLength: 50 }),
        ),
      ),
      fc.tuple(
        fc.constantFrom('application/x-www-form-urlencoded', 'application/x-www-form-urlencoded; charset=UTF-8'),
        fc.oneof(
          scopeArbitrary.map((scope) => `scope=${encodeURIComponent(scope)}`),
          scopeArbitrary.map((scope) => `scope=${encodeURIComponent(scope)}&scope=${encodeURIComponent(scope)}`),
          fc.string({ maxLength: 100 }),
          fc.nat({ max: 6000 }).map((n) => `scope=${'a'.repeat(n)}`),
        ),
      ),
      // Anything at all.
      fc.tuple(
        fc.option(fc.oneof(fc.constantFrom('text/plain', 'application/xml'), fc.string({ maxLength: 30 })), {
          nil: undefined,
        }),
        fc.oneof(fc.constant(''), fc.string({ maxLength: 200 }), fc.string({ unit: 'binary', maxLength: 200 })),
      ),
    ),
    contentLength: fc.option(fc.oneof(fc.nat({ max: 10_000 }).map(String), fc.string({ maxLength: 6 })), {
      nil: undefined,
    }),
    providerFails: fc.boolean(),
  });
}

function checkResponse(c: Case, response: CoreHttpResponse, f: FrontDoor): void {
  expect(response.status).not.toBe(500);
  expect(response.headers['Content-Type']).toBe('application/json; charset=utf-8');
  expect(response.headers['Cache-Control']).toBe('no-store');
  expect(response.headers.Pragma).toBe('no-cache');
  expect(response.headers['X-Content-Type-Options']).toBe('nosniff');
  for (const [name, value] of Object.entries(response.headers)) {
    expect(name.toLowerCase()).not.toBe('set-cookie');
    expect(value).toMatch(/^[\x20-\x7E]*$/);
  }
  const allowedHeaders = new Set([
    'Content-Type',
    'Cache-Control',
    'Pragma',
    'X-Content-Type-Options',
    'WWW-Authenticate',
    'Allow',
    'Retry-After',
  ]);
  for (const name of Object.keys(response.headers)) expect(allowedHeaders.has(name)).toBe(true);

  const body = JSON.parse(response.body) as Record<string, unknown>;
  if (response.status === 200) {
    // Never a token without a valid caller.
    expect(c.authorization.valid).toBe(true);
    expect(['GET', 'POST']).toContain(c.method.toUpperCase());
    expect(Object.keys(body).sort()).toEqual(
      ['access_token', 'expires_in', 'expires_on', 'refresh_in', 'scope', 'token_type'].sort(),
    );
    expect(body.scope).toBe(SCOPE_A);
    expect(body.refresh_in as number).toBeGreaterThanOrEqual(1);
    expect(body.refresh_in as number).toBeLessThan(body.expires_in as number);
    return;
  }
  expect(Object.keys(body).sort()).toEqual(['error', 'error_description']);
  expect(ERROR_FOR_STATUS[response.status]).toContain(body.error);
  expect(body.error_description).toMatch(/^[\x20-\x7E]*$/);
  if (response.status === 401) {
    expect(['Bearer', 'Bearer error="invalid_token"']).toContain(response.headers['WWW-Authenticate']);
  }
  if (response.status === 403) expect(response.headers['WWW-Authenticate']).toBe('Bearer error="insufficient_scope"');
  if (response.status === 405) expect(response.headers.Allow).toBe('GET, POST');
  if (response.status === 429 || response.status === 503) expect(response.headers['Retry-After']).toMatch(/^[1-9]\d*$/);
  expect(response.body).not.toContain(f.tokens.accessToken);
}

describe('token endpoint under random input (fast-check)', () => {
  it('never answers 500, never hands a token to an invalid caller, always answers contract JSON', async () => {
    const f = createFrontDoor();
    const counts = new Map<number, number>();
    await fc.assert(
      fc.asyncProperty(caseArbitrary(f), async (c) => {
        f.clock.advance(1_000); // keeps the rate limiter from answering 429 to everything
        f.tokens.failure = c.providerFails
          ? new BrokerError('entra_transient', 'upstream said no', { retryAfterSeconds: 3 })
          : undefined;
        const callsBefore = f.tokens.calls.length;
        const response = await f.handle(makeRequest(c));
        checkResponse(c, response, f);
        // The engine is only asked on behalf of a valid caller, for a served and granted scope.
        if (f.tokens.calls.length > callsBefore) {
          expect(c.authorization.valid).toBe(true);
          expect(f.tokens.calls.at(-1)).toBe(SCOPE_A);
        }
        counts.set(response.status, (counts.get(response.status) ?? 0) + 1);
      }),
      { numRuns: 600 },
    );
    // The generator must reach the interesting outcomes, or the property proves little.
    for (const status of [200, 400, 401, 403, 405, 413, 415, 503]) expect(counts.get(status) ?? 0).toBeGreaterThan(0);
    expect(f.logs.events('UnexpectedError')).toEqual([]);
    expect(f.logs.lines.join('\n')).not.toMatch(/eyJ[A-Za-z0-9_-]{10}/);
  });
});
