import { createHash } from 'node:crypto';
import * as jose from 'jose';
import {
  CallerAuthenticator,
  type CallerAuthenticatorOptions,
  MAX_CALLER_TOKEN_LENGTH,
} from '../../../src/callers/callerAuth';
import { BrokerError } from '../../../src/contract/errors';
import {
  AUDIENCE,
  AUDIENCE_GUID,
  CALLER_APP_ID,
  FakeClock,
  LogCapture,
  makeConfig,
  OTHER_TENANT,
  TENANT,
  testKey,
} from '../../support/frontDoorFixture';
import { codeOf } from '../../support/failureOf';
import { JwksEndpoint } from '../../support/jwksServer';
import { base64url, createSigningKey, JwtFactory, tamperPayload, truncateSignature } from '../../support/jwtFactory';
import type { SettingsSource } from '../../../src/contract/config';

// Counts RSA verifications so the verified-token cache can be observed; behaviour is jose's own.
jest.mock('jose', () => {
  const actual = jest.requireActual('jose');
  return { ...actual, jwtVerify: jest.fn(actual.jwtVerify) };
});
const jwtVerifyMock = jose.jwtVerify as unknown as jest.Mock;

interface Setup {
  clock: FakeClock;
  jwks: JwksEndpoint;
  jwt: JwtFactory;
  logs: LogCapture;
  auth: CallerAuthenticator;
}

function setup(options: { settings?: SettingsSource; auth?: Partial<CallerAuthenticatorOptions> } = {}): Setup {
  const clock = new FakeClock();
  const key = testKey();
  const jwks = new JwksEndpoint([key.publicJwk]);
  const jwt = new JwtFactory({ tenantId: TENANT, audience: AUDIENCE, key, nowSeconds: () => clock.now() / 1000 });
  const logs = new LogCapture(clock);
  const auth = new CallerAuthenticator({
    config: makeConfig(options.settings),
    clock,
    logger: logs.logger,
    fetch: jwks.fetch,
    jwksUri: jwks.uri,
    ...options.auth,
  });
  return { clock, jwks, jwt, logs, auth };
}

/** Two caller tenants: CALLER_POLICY then keys callers by tenant and app ID. */
const multiTenantSettings: SettingsSource = {
  CALLER_TENANTS: `${TENANT},${OTHER_TENANT}`,
  CALLER_POLICY: JSON.stringify({
    [`${TENANT}/${CALLER_APP_ID}`]: ['api://third-party-api/.default'],
    [`${OTHER_TENANT}/${CALLER_APP_ID}`]: [],
  }),
};

let s: Setup;
beforeEach(() => {
  s = setup();
  jwtVerifyMock.mockClear();
});

describe('CallerAuthenticator: a good app-only token', () => {
  it('returns the caller identity of a v2 token with a short hash, never the token', async () => {
    const token = s.jwt.sign();
    const caller = await s.auth.authenticate(`Bearer ${token}`);
    expect(caller).toEqual({
      tenantId: TENANT,
      appId: CALLER_APP_ID,
      policyKey: CALLER_APP_ID,
      objectId: '0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d',
      roles: ['Token.Request'],
      tokenHash: createHash('sha256').update(token).digest('hex').slice(0, 12),
    });
    expect(JSON.stringify(caller)).not.toContain(token.split('.')[2]);
  });

  it('accepts a v1 token (sts.windows.net issuer, appid) and lower-cases the app ID', async () => {
    const token = s.jwt.sign(s.jwt.v1Claims({ appid: CALLER_APP_ID.toUpperCase() }));
    await expect(s.auth.authenticate(`Bearer ${token}`)).resolves.toMatchObject({ appId: CALLER_APP_ID });
  });

  it.each(['bearer', 'BEARER', 'BeArEr'])('treats the scheme case-insensitively (%s)', async (scheme) => {
    await expect(s.auth.authenticate(`${scheme} ${s.jwt.sign()}`)).resolves.toMatchObject({ tenantId: TENANT });
  });

  it('accepts any configured audience (the GUID form too)', async () => {
    await expect(
      s.auth.authenticate(`Bearer ${s.jwt.sign(s.jwt.claims({ aud: AUDIENCE_GUID }))}`),
    ).resolves.toBeDefined();
  });

  it('accepts a v1 token whose aud is the identifier URI with a trailing slash, and without one', async () => {
    // Entra writes a v1 `aud` as the caller spelled the resource: `api://x//.default` gives `api://x/`.
    await expect(
      s.auth.authenticate(`Bearer ${s.jwt.sign(s.jwt.v1Claims({ aud: `${AUDIENCE}/`, idtyp: undefined }))}`),
    ).resolves.toMatchObject({ appId: CALLER_APP_ID });
    s = setup({ settings: { CALLER_AUDIENCES: `${AUDIENCE}/` } });
    await expect(s.auth.authenticate(`Bearer ${s.jwt.sign(s.jwt.v1Claims())}`)).resolves.toBeDefined();
  });

  it('accepts a v1 managed identity token: appid, oid = sub, no idtyp', async () => {
    const principal = '5d6e7f80-9a1b-4c2d-8e3f-405162738495';
    const claims = s.jwt.v1Claims({ oid: principal, sub: principal, appidacr: '2' });
    delete claims.idtyp;
    await expect(s.auth.authenticate(`Bearer ${s.jwt.sign(claims)}`)).resolves.toMatchObject({
      appId: CALLER_APP_ID,
      objectId: principal,
    });
  });

  it('accepts a token of a second allowed tenant with its own issuer; its policy key names the tenant', async () => {
    s = setup({ settings: multiTenantSettings });
    const claims = s.jwt.claims({
      tid: OTHER_TENANT,
      iss: `https://sts.windows.net/${OTHER_TENANT}/`,
      aud: AUDIENCE_GUID,
    });
    await expect(s.auth.authenticate(`Bearer ${s.jwt.sign(claims)}`)).resolves.toMatchObject({
      tenantId: OTHER_TENANT,
      policyKey: `${OTHER_TENANT}/${CALLER_APP_ID}`,
    });
  });

  it('accepts an exp that passed less than the clock tolerance ago (60 s)', async () => {
    const now = s.clock.now() / 1000;
    const token = s.jwt.sign(s.jwt.claims({ exp: now - 30 }));
    await expect(s.auth.authenticate(`Bearer ${token}`)).resolves.toBeDefined();
  });

  it('accepts a token without idtyp as app-only when it has no scp and its oid equals its sub', async () => {
    // idtyp is an optional claim: Entra sends it only when the API app asks for it.
    const token = s.jwt.sign(s.jwt.claims(), { omit: ['idtyp'] });
    await expect(s.auth.authenticate(`Bearer ${token}`)).resolves.toBeDefined();
  });
});

describe('CallerAuthenticator: no bearer token → caller_token_missing', () => {
  it.each([
    ['absent', undefined],
    ['null', null],
    ['empty', ''],
    ['Basic credentials', 'Basic dXNlcjpwYXNz'],
    ['an empty bearer', 'Bearer'],
    ['a bearer of spaces', 'Bearer    '],
    ['another scheme', 'Negotiate abc'],
  ])('%s', async (_name, header) => {
    expect(await codeOf(s.auth.authenticate(header))).toBe('caller_token_missing');
    expect(s.jwks.requests).toBe(0);
  });
});

describe('CallerAuthenticator: malformed, oversized, wrong algorithm, tampered → caller_token_invalid', () => {
  const segments = (header: unknown, payload: unknown): string =>
    `${base64url(JSON.stringify(header))}.${base64url(JSON.stringify(payload))}.c2ln`;

  it.each([
    ['two segments', 'eyJhbGciOiJSUzI1NiJ9.eyJhIjoxfQ'],
    ['four segments', 'a.b.c.d'],
    ['not base64url', 'eyJhbGciOiJSUzI1NiJ9.eyJ+/=.c2ln'],
    ['a header that is not JSON', `${base64url('not json')}.${base64url('{}')}.c2ln`],
    ['a payload that is not JSON', `${base64url('{"alg":"RS256","kid":"test-key-1"}')}.${base64url('nope')}.c2ln`],
    ['a payload that is a JSON array', segments({ alg: 'RS256', kid: 'test-key-1' }, [1, 2])],
    ['a payload that is a JSON number', segments({ alg: 'RS256', kid: 'test-key-1' }, 42)],
    ['a header that is a JSON string', segments('RS256', {})],
    ['a token with a space inside', 'abc.d ef.ghi'],
  ])('%s', async (_name, token) => {
    expect(await codeOf(s.auth.authenticate(`Bearer ${token}`))).toBe('caller_token_invalid');
  });

  it('refuses a token over 8 KB before decoding it (no key set fetch, no jose call)', async () => {
    const big = s.jwt.sign(s.jwt.claims({ padding: 'x'.repeat(MAX_CALLER_TOKEN_LENGTH) }));
    expect(big.length).toBeGreaterThan(MAX_CALLER_TOKEN_LENGTH);
    expect(await codeOf(s.auth.authenticate(`Bearer ${big}`))).toBe('caller_token_invalid');
    expect(s.jwks.requests).toBe(0);
    expect(jwtVerifyMock).not.toHaveBeenCalled();
  });

  it('refuses alg none without fetching any key', async () => {
    expect(await codeOf(s.auth.authenticate(`Bearer ${s.jwt.unsigned()}`))).toBe('caller_token_invalid');
    expect(await codeOf(s.auth.authenticate(`Bearer ${s.jwt.unsigned()}x`))).toBe('caller_token_invalid');
    expect(s.jwks.requests).toBe(0);
  });

  it('refuses HS256 signed with the RSA public key as the HMAC secret, without fetching any key', async () => {
    expect(await codeOf(s.auth.authenticate(`Bearer ${s.jwt.hs256WithPublicKey()}`))).toBe('caller_token_invalid');
    expect(s.jwks.requests).toBe(0);
  });

  it.each(['RS384', 'RS512', 'PS256', 'ES256', 'EdDSA'])('refuses alg %s (RS256 only)', async (alg) => {
    const token = s.jwt.sign(s.jwt.claims(), { header: { alg } });
    expect(await codeOf(s.auth.authenticate(`Bearer ${token}`))).toBe('caller_token_invalid');
  });

  it('refuses a tampered payload and a truncated signature', async () => {
    const good = s.jwt.sign();
    const tampered = tamperPayload(good, s.jwt.claims({ roles: ['Token.Request', 'Admin'] }));
    expect(await codeOf(s.auth.authenticate(`Bearer ${tampered}`))).toBe('caller_token_invalid');
    expect(await codeOf(s.auth.authenticate(`Bearer ${truncateSignature(good)}`))).toBe('caller_token_invalid');
    expect(await codeOf(s.auth.authenticate(`Bearer ${good.slice(0, good.lastIndexOf('.') + 1)}`))).toBe(
      'caller_token_invalid',
    );
  });

  it('refuses a token signed by a foreign key that claims our kid', async () => {
    const foreign = createSigningKey('test-key-1');
    const token = s.jwt.sign(s.jwt.claims(), { key: foreign });
    expect(await codeOf(s.auth.authenticate(`Bearer ${token}`))).toBe('caller_token_invalid');
  });
});

describe('CallerAuthenticator: unknown kid, key set fetch limits, jku/x5u/jwk ignored', () => {
  it('refetches the key set once for an unknown kid, then refuses it', async () => {
    s = setup({ auth: { cooldownMs: 0 } });
    await s.auth.authenticate(`Bearer ${s.jwt.sign()}`);
    expect(s.jwks.requests).toBe(1);
    const stranger = createSigningKey('unknown-kid');
    expect(await codeOf(s.auth.authenticate(`Bearer ${s.jwt.sign(s.jwt.claims(), { key: stranger })}`))).toBe(
      'caller_token_invalid',
    );
    expect(s.jwks.requests).toBe(2);
  });

  it('does not flood the keys endpoint with a flood of random kids (cooldown)', async () => {
    await s.auth.authenticate(`Bearer ${s.jwt.sign()}`);
    const attempts = Array.from({ length: 30 }, (_, i) =>
      codeOf(s.auth.authenticate(`Bearer ${s.jwt.sign(s.jwt.claims(), { header: { kid: `random-${i}` } })}`)),
    );
    expect(new Set(await Promise.all(attempts))).toEqual(new Set(['caller_token_invalid']));
    expect(s.jwks.requests).toBe(1);
  });

  it('never follows jku or x5u, and never trusts an embedded jwk', async () => {
    const attacker = createSigningKey('attacker');
    const headers = [
      { jku: 'https://attacker.example/keys' },
      { x5u: 'https://attacker.example/cert.pem' },
      { jwk: attacker.publicJwk },
    ];
    for (const header of headers) {
      const token = s.jwt.sign(s.jwt.claims(), { key: attacker, header });
      expect(await codeOf(s.auth.authenticate(`Bearer ${token}`))).toBe('caller_token_invalid');
      // The same with our kid: the embedded key must not replace the published one.
      const sameKid = s.jwt.sign(s.jwt.claims(), { key: attacker, header: { ...header, kid: 'test-key-1' } });
      expect(await codeOf(s.auth.authenticate(`Bearer ${sameKid}`))).toBe('caller_token_invalid');
    }
    expect(new Set(s.jwks.urls)).toEqual(new Set([s.jwks.uri]));
  });
});

describe('CallerAuthenticator: key rollover and an unavailable keys endpoint', () => {
  it('accepts a token signed by a newly published key after one refetch', async () => {
    s = setup({ auth: { cooldownMs: 0 } });
    await s.auth.authenticate(`Bearer ${s.jwt.sign()}`);
    const next = createSigningKey('rolled-key');
    s.jwks.keys = [testKey().publicJwk, next.publicJwk];
    await expect(s.auth.authenticate(`Bearer ${s.jwt.sign(s.jwt.claims(), { key: next })}`)).resolves.toBeDefined();
    expect(s.jwks.requests).toBe(2);
  });

  it.each(['network', 'status', 'malformed'] as const)(
    'keeps accepting valid tokens with the cached keys while the endpoint fails (%s)',
    async (mode) => {
      // keysMaxAgeMs 0: jose considers the set stale at once and refetches on every verification.
      s = setup({ auth: { keysMaxAgeMs: 0 } });
      await s.auth.authenticate(`Bearer ${s.jwt.sign(s.jwt.claims({ jti: 'first' }))}`);
      s.jwks.mode = mode;
      await expect(s.auth.authenticate(`Bearer ${s.jwt.sign(s.jwt.claims({ jti: 'second' }))}`)).resolves.toBeDefined();
      // And a forged token is still refused on the cached keys.
      expect(await codeOf(s.auth.authenticate(`Bearer ${s.jwt.hs256WithPublicKey()}`))).toBe('caller_token_invalid');
      expect(
        await codeOf(s.auth.authenticate(`Bearer ${s.jwt.sign(s.jwt.claims(), { key: createSigningKey('x') })}`)),
      ).toBe('caller_token_invalid');
      expect(s.logs.events('CallerKeysFetchFailed').length).toBeGreaterThan(0);
    },
  );

  it('never makes a caller wait on a hanging keys endpoint once keys are cached (background refresh)', async () => {
    // Were the refresh awaited, this would wait for the 60 s fetch timeout and the test would time out.
    s = setup({ auth: { keysMaxAgeMs: 0, keysTimeoutMs: 60_000 } });
    await s.auth.authenticate(`Bearer ${s.jwt.sign(s.jwt.claims({ jti: 'first' }))}`);
    s.jwks.mode = 'hang';
    await expect(s.auth.authenticate(`Bearer ${s.jwt.sign(s.jwt.claims({ jti: 'second' }))}`)).resolves.toBeDefined();
    await expect(s.auth.authenticate(`Bearer ${s.jwt.sign(s.jwt.claims({ jti: 'third' }))}`)).resolves.toBeDefined();
    expect(s.jwks.requests).toBe(2); // one background refresh, still hanging, shared
  });

  it('does not refetch during the backoff after a failed fetch, then tries again', async () => {
    s = setup({ auth: { keysMaxAgeMs: 0, keysRetryAfterFailureMs: 5_000 } });
    await s.auth.authenticate(`Bearer ${s.jwt.sign(s.jwt.claims({ jti: 'a' }))}`);
    s.jwks.mode = 'network';
    await s.auth.authenticate(`Bearer ${s.jwt.sign(s.jwt.claims({ jti: 'b' }))}`);
    const afterFailure = s.jwks.requests;
    await s.auth.authenticate(`Bearer ${s.jwt.sign(s.jwt.claims({ jti: 'c' }))}`);
    expect(s.jwks.requests).toBe(afterFailure);
    s.clock.advance(5_001);
    s.jwks.mode = 'ok';
    await s.auth.authenticate(`Bearer ${s.jwt.sign(s.jwt.claims({ jti: 'd' }))}`);
    expect(s.jwks.requests).toBe(afterFailure + 1);
  });

  it.each(['network', 'status', 'malformed', 'hang'] as const)(
    'answers caller_keys_unavailable (503), not invalid, when no keys were ever fetched (%s)',
    async (mode) => {
      s = setup({ auth: { keysTimeoutMs: 50 } });
      s.jwks.mode = mode;
      let thrown: unknown;
      try {
        await s.auth.authenticate(`Bearer ${s.jwt.sign()}`);
      } catch (error) {
        thrown = error;
      }
      expect(thrown).toBeInstanceOf(BrokerError);
      expect((thrown as BrokerError).code).toBe('caller_keys_unavailable');
      expect((thrown as BrokerError).retryAfterSeconds).toBeGreaterThanOrEqual(1);
      // Recovers once the endpoint does.
      s.jwks.mode = 'ok';
      s.clock.advance(10_000);
      await expect(s.auth.authenticate(`Bearer ${s.jwt.sign()}`)).resolves.toBeDefined();
    },
  );
});

describe('CallerAuthenticator: lifetime, issuer, tenant, audience → caller_token_invalid', () => {
  const now = (): number => s.clock.now() / 1000;
  it.each<[string, () => { claims: Record<string, unknown>; omit?: string[] }]>([
    ['exp beyond the tolerance', () => ({ claims: s.jwt.claims({ exp: now() - 61 }) })],
    ['nbf beyond the tolerance', () => ({ claims: s.jwt.claims({ nbf: now() + 120 }) })],
    ['exp missing', () => ({ claims: s.jwt.claims(), omit: ['exp'] })],
    ['exp a string', () => ({ claims: s.jwt.claims({ exp: String(now() + 3600) }) })],
    ['exp null', () => ({ claims: s.jwt.claims({ exp: null }) })],
    [
      'another tenant (issuer and tid)',
      () => ({
        claims: s.jwt.claims({ tid: OTHER_TENANT, iss: `https://login.microsoftonline.com/${OTHER_TENANT}/v2.0` }),
      }),
    ],
    ['our issuer, another tid', () => ({ claims: s.jwt.claims({ tid: OTHER_TENANT }) })],
    ['tid missing', () => ({ claims: s.jwt.claims(), omit: ['tid'] })],
    ['issuer missing', () => ({ claims: s.jwt.claims(), omit: ['iss'] })],
    ['v2 host with v1 path', () => ({ claims: s.jwt.claims({ iss: `https://login.microsoftonline.com/${TENANT}/` }) })],
    ['v1 host with v2 path', () => ({ claims: s.jwt.claims({ iss: `https://sts.windows.net/${TENANT}/v2.0` }) })],
    [
      'v1 issuer without trailing slash',
      () => ({ claims: s.jwt.claims({ iss: `https://sts.windows.net/${TENANT}` }) }),
    ],
    [
      'issuer with upper-case tenant',
      () => ({ claims: s.jwt.claims({ iss: `https://login.microsoftonline.com/${TENANT.toUpperCase()}/v2.0` }) }),
    ],
    [
      'the common endpoint as issuer',
      () => ({ claims: s.jwt.claims({ iss: 'https://login.microsoftonline.com/common/v2.0' }) }),
    ],
    ['audience of another API', () => ({ claims: s.jwt.claims({ aud: 'api://someone-else' }) })],
    ['audience missing', () => ({ claims: s.jwt.claims(), omit: ['aud'] })],
    ['audience empty', () => ({ claims: s.jwt.claims({ aud: '' }) })],
  ])('%s', async (_name, make) => {
    const { claims, omit } = make();
    expect(await codeOf(s.auth.authenticate(`Bearer ${s.jwt.sign(claims, { omit })}`))).toBe('caller_token_invalid');
  });

  it('refuses a genuinely signed token of a tenant that is not allowed (its own key set)', async () => {
    // Another tenant's key that our key set does not hold, with matching iss/tid of that tenant.
    const foreignKey = createSigningKey('foreign-tenant-key');
    const claims = s.jwt.claims({ tid: OTHER_TENANT, iss: `https://sts.windows.net/${OTHER_TENANT}/` });
    expect(await codeOf(s.auth.authenticate(`Bearer ${s.jwt.sign(claims, { key: foreignKey })}`))).toBe(
      'caller_token_invalid',
    );
  });

  it('refuses a token of another tenant that names the identifier URI (unique only within a tenant)', async () => {
    s = setup({ settings: multiTenantSettings });
    for (const aud of [AUDIENCE, `${AUDIENCE}/`]) {
      const claims = s.jwt.claims({ tid: OTHER_TENANT, iss: `https://sts.windows.net/${OTHER_TENANT}/`, aud });
      expect(await codeOf(s.auth.authenticate(`Bearer ${s.jwt.sign(claims)}`))).toBe('caller_token_invalid');
    }
    // The broker's own tenant may still use the identifier URI.
    await expect(s.auth.authenticate(`Bearer ${s.jwt.sign()}`)).resolves.toMatchObject({
      policyKey: `${TENANT}/${CALLER_APP_ID}`,
    });
  });

  it('refuses to be built without audiences', () => {
    const config = { ...makeConfig(), callerAudiences: [] };
    expect(() => new CallerAuthenticator({ config, logger: s.logs.logger })).toThrow(TypeError);
  });
});

describe('CallerAuthenticator: app-only tokens with the role only → caller_forbidden', () => {
  it.each<[string, () => { claims: Record<string, unknown>; omit?: string[] }]>([
    ['a delegated token with scp', () => ({ claims: s.jwt.claims({ scp: 'user_impersonation', idtyp: 'user' }) })],
    ['scp next to idtyp app', () => ({ claims: s.jwt.claims({ scp: 'Token.Request' }) })],
    ['idtyp user without scp', () => ({ claims: s.jwt.claims({ idtyp: 'user' }) })],
    ['no idtyp and no roles', () => ({ claims: s.jwt.claims(), omit: ['idtyp', 'roles'] })],
    [
      'a user-shaped token with roles, no idtyp and no scp (oid differs from sub)',
      () => ({ claims: s.jwt.claims({ sub: 'pairwise-subject-of-a-user' }), omit: ['idtyp'] }),
    ],
    ['no idtyp and no oid', () => ({ claims: s.jwt.claims(), omit: ['idtyp', 'oid'] })],
    ['no required role', () => ({ claims: s.jwt.claims({ roles: ['Other.Role'] }) })],
    ['role in another case', () => ({ claims: s.jwt.claims({ roles: ['token.request'] }) })],
    ['roles not an array', () => ({ claims: s.jwt.claims({ roles: 'Token.Request' }) })],
    ['no azp nor appid', () => ({ claims: s.jwt.claims(), omit: ['azp'] })],
  ])('%s', async (_name, make) => {
    const { claims, omit } = make();
    expect(await codeOf(s.auth.authenticate(`Bearer ${s.jwt.sign(claims, { omit })}`))).toBe('caller_forbidden');
  });

  it('requires no role when CALLER_REQUIRED_ROLE is empty, but still an app-only token', async () => {
    s = setup({ settings: { CALLER_REQUIRED_ROLE: '' } });
    await expect(s.auth.authenticate(`Bearer ${s.jwt.sign(s.jwt.claims({ roles: [] }))}`)).resolves.toBeDefined();
    expect(await codeOf(s.auth.authenticate(`Bearer ${s.jwt.sign(s.jwt.claims({ scp: 'x' }))}`))).toBe(
      'caller_forbidden',
    );
  });
});

describe('CallerAuthenticator: verified-token cache', () => {
  it('verifies a token once and serves repeats from the cache', async () => {
    const token = s.jwt.sign();
    await s.auth.authenticate(`Bearer ${token}`);
    await s.auth.authenticate(`Bearer ${token}`);
    await s.auth.authenticate(`bearer ${token}`);
    expect(jwtVerifyMock).toHaveBeenCalledTimes(1);
  });

  it('verifies a token once when its requests arrive together, before the first is cached', async () => {
    const token = s.jwt.sign();
    const callers = await Promise.all(Array.from({ length: 5 }, () => s.auth.authenticate(`Bearer ${token}`)));
    expect(new Set(callers.map((caller) => caller.tokenHash)).size).toBe(1);
    expect(jwtVerifyMock).toHaveBeenCalledTimes(1);
  });

  it("gives a refused token's requests arriving together its error, and verifies it again next time", async () => {
    const token = s.jwt.sign(s.jwt.claims({ aud: 'api://someone-else' }));
    const codes = await Promise.all(Array.from({ length: 3 }, () => codeOf(s.auth.authenticate(`Bearer ${token}`))));
    expect(codes).toEqual(['caller_token_invalid', 'caller_token_invalid', 'caller_token_invalid']);
    expect(await codeOf(s.auth.authenticate(`Bearer ${token}`))).toBe('caller_token_invalid');
    expect(jwtVerifyMock).toHaveBeenCalledTimes(2);
  });

  it('verifies again after 5 minutes', async () => {
    const token = s.jwt.sign();
    await s.auth.authenticate(`Bearer ${token}`);
    s.clock.advance(5 * 60_000);
    await s.auth.authenticate(`Bearer ${token}`);
    expect(jwtVerifyMock).toHaveBeenCalledTimes(2);
  });

  it('never serves a cached token past its exp', async () => {
    const token = s.jwt.sign(s.jwt.claims({ exp: s.clock.now() / 1000 + 100 }));
    await s.auth.authenticate(`Bearer ${token}`);
    s.clock.advance(161_000);
    expect(await codeOf(s.auth.authenticate(`Bearer ${token}`))).toBe('caller_token_invalid');
  });

  it('still applies the app-only and role checks to a cached token', async () => {
    const token = s.jwt.sign(s.jwt.claims({ scp: 'user_impersonation' }));
    expect(await codeOf(s.auth.authenticate(`Bearer ${token}`))).toBe('caller_forbidden');
    expect(await codeOf(s.auth.authenticate(`Bearer ${token}`))).toBe('caller_forbidden');
  });

  it('does not remember refused tokens as good ones', async () => {
    const token = s.jwt.sign(s.jwt.claims({ aud: 'api://someone-else' }));
    expect(await codeOf(s.auth.authenticate(`Bearer ${token}`))).toBe('caller_token_invalid');
    expect(await codeOf(s.auth.authenticate(`Bearer ${token}`))).toBe('caller_token_invalid');
    expect(jwtVerifyMock).toHaveBeenCalledTimes(2);
  });
});

describe('CallerAuthenticator: hygiene', () => {
  it('puts no token in thrown messages or log lines', async () => {
    const tokens = [s.jwt.sign(s.jwt.claims({ aud: 'x' })), s.jwt.hs256WithPublicKey(), s.jwt.unsigned(), 'a.b.c'];
    for (const token of tokens) {
      try {
        await s.auth.authenticate(`Bearer ${token}`);
      } catch (error) {
        expect((error as Error).message).not.toContain(token);
        expect((error as Error).message).not.toContain('eyJ');
      }
    }
    for (const line of s.logs.lines) expect(line).not.toContain('eyJ');
  });
});

describe('CallerAuthenticator.warmUp', () => {
  it('fetches the keys ahead of the first caller, once', async () => {
    await expect(s.auth.warmUp()).resolves.toBe(true);
    await expect(s.auth.warmUp()).resolves.toBe(true);
    expect(s.jwks.requests).toBe(1);
    await s.auth.authenticate(`Bearer ${s.jwt.sign()}`);
    expect(s.jwks.requests).toBe(1);
  });

  it('reports false and never throws when the keys endpoint is down', async () => {
    s.jwks.mode = 'status';
    await expect(s.auth.warmUp()).resolves.toBe(false);
    expect(s.logs.events('CallerKeysFetchFailed')).toHaveLength(1);
  });
});
