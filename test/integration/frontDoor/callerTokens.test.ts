/**
 * The front door with real caller tokens from the emulated Entra (client credentials over HTTPS)
 * and the tenant's real keys endpoint (fetched by jose over HTTPS with the emulator's CA).
 * Caller authentication with genuine tokens, key rollover and a failing keys endpoint.
 */
import { randomUUID } from 'node:crypto';
import { startEmulator } from '../../../dev/emulator';
import type { RunningEmulator } from '../../../dev/emulator';
import { CallerAuthenticator, type CallerAuthenticatorOptions } from '../../../src/callers/callerAuth';
import { type BrokerConfig, parseConfig } from '../../../src/contract/config';
import type { BrokerErrorCode } from '../../../src/contract/errors';
import { RateLimiter } from '../../../src/callers/rateLimiter';
import { createTlsFetch } from '../../../src/platform/tlsFetch';
import type { CoreHttpResponse } from '../../../src/http/httpTypes';
import { createTokenRequestHandler } from '../../../src/http/tokenRequestHandler';
import {
  expectContractHeaders,
  expectErrorBody,
  FakeTokenProvider,
  LogCapture,
  parseBody,
  request,
} from '../../support/frontDoorFixture';
import { codeOf } from '../../support/failureOf';

describe('front door with real caller tokens from the emulator', () => {
  let emulator: RunningEmulator;
  let config: BrokerConfig;
  let jwksFetches = 0;
  let tlsFetch: typeof fetch;

  beforeAll(async () => {
    emulator = await startEmulator();
    config = parseConfig(emulator.brokerSettings());
    const inner = createTlsFetch(emulator.caPem);
    tlsFetch = async (input: string | URL | Request, init?: RequestInit) => {
      jwksFetches++;
      return inner(input, init);
    };
  });

  afterAll(async () => {
    await emulator.close();
  });

  beforeEach(() => {
    emulator.reset();
    jwksFetches = 0;
  });

  function authenticator(options: Partial<CallerAuthenticatorOptions> = {}): CallerAuthenticator {
    return new CallerAuthenticator({
      config,
      logger: new LogCapture().logger,
      fetch: tlsFetch,
      jwksUri: emulator.jwksUri,
      ...options,
    });
  }

  function frontDoor(auth = authenticator()) {
    const logs = new LogCapture();
    const tokens = new FakeTokenProvider({ now: () => Date.now() });
    const handle = createTokenRequestHandler({
      config,
      tokens,
      authenticator: auth,
      rateLimiter: RateLimiter.fromConfig(config),
      logger: logs.logger,
    });
    return { handle, tokens, logs };
  }

  /** Claims like those of a real caller token, for tokens signed with the tenant's key via signJwt. */
  function callerClaims(overrides: Record<string, unknown> = {}): Record<string, unknown> {
    const now = Math.floor(Date.now() / 1000);
    const caller = emulator.callers[0]!;
    return {
      aud: emulator.broker.audience,
      iss: `https://login.microsoftonline.com/${emulator.tenantId}/v2.0`,
      iat: now,
      nbf: now,
      exp: now + 3600,
      tid: emulator.tenantId,
      azp: caller.clientId,
      appid: caller.clientId,
      oid: randomUUID(),
      idtyp: 'app',
      roles: ['Token.Request'],
      ver: '2.0',
      ...overrides,
    };
  }

  it('serves workload-a, with its real token, the default scope', async () => {
    const { handle, tokens } = frontDoor();
    const token = await emulator.callerToken('workload-a');
    const response = await handle(request({ headers: { Authorization: `Bearer ${token}` } }));
    expect(response.status).toBe(200);
    expectContractHeaders(response);
    expect(parseBody(response).scope).toBe(emulator.scopes[0]);
    expect(tokens.calls).toEqual([emulator.scopes[0]]);
    expect(jwksFetches).toBe(1);
  });

  it('verifies a busy caller’s token once (the key set is fetched once, RSA is skipped for repeats)', async () => {
    const { handle } = frontDoor();
    const token = await emulator.callerToken('workload-a');
    for (let i = 0; i < 20; i++) {
      expect((await handle(request({ headers: { Authorization: `Bearer ${token}` } }))).status).toBe(200);
    }
    expect(jwksFetches).toBe(1);
  });

  it('refuses workload-denied (allowed nothing) and workload-norole (no app role) with 403', async () => {
    const { handle, tokens } = frontDoor();
    for (const name of ['workload-denied', 'workload-norole']) {
      const token = await emulator.callerToken(name);
      const response = await handle(request({ headers: { Authorization: `Bearer ${token}` } }));
      expectErrorBody(response, 403, 'insufficient_scope');
      expect(response.headers['WWW-Authenticate']).toBe('Bearer error="insufficient_scope"');
    }
    expect(tokens.calls).toEqual([]);
  });

  it('refuses a scope workload-a is not granted (403) and a malformed one (400) before anything goes upstream', async () => {
    const { handle, tokens } = frontDoor();
    const token = await emulator.callerToken('workload-a');
    const other = await handle(
      request({
        url: `http://127.0.0.1/api/token?scope=${encodeURIComponent(emulator.scopes[1]!)}`,
        headers: { Authorization: `Bearer ${token}` },
      }),
    );
    expectErrorBody(other, 403, 'insufficient_scope');
    const malformed = await handle(
      request({
        url: 'http://127.0.0.1/api/token?scope=openid%20profile',
        headers: { Authorization: `Bearer ${token}` },
      }),
    );
    expectErrorBody(malformed, 400, 'invalid_request');
    expect(tokens.calls).toEqual([]);
  });

  it('refuses a real token for another audience (the third-party API’s) with 401', async () => {
    const token = await emulator.callerToken('workload-a', emulator.scopes[0]);
    expect(await codeOf(authenticator().authenticate(`Bearer ${token}`))).toBe('caller_token_invalid');
  });

  it.each<[string, Record<string, unknown>, BrokerErrorCode]>([
    ['expired beyond the tolerance', { exp: Math.floor(Date.now() / 1000) - 120 }, 'caller_token_invalid'],
    ['not yet valid', { nbf: Math.floor(Date.now() / 1000) + 600 }, 'caller_token_invalid'],
    ['of another tenant', { tid: randomUUID() }, 'caller_token_invalid'],
    ['with a v1 issuer and another tid', { iss: `https://sts.windows.net/${randomUUID()}/` }, 'caller_token_invalid'],
    ['delegated (scp)', { scp: 'user_impersonation', idtyp: 'user' }, 'caller_forbidden'],
    ['without the role', { roles: ['Other'] }, 'caller_forbidden'],
  ])('refuses a tenant-signed token %s', async (_name, overrides, code) => {
    const token = await emulator.signJwt(callerClaims(overrides));
    expect(await codeOf(authenticator().authenticate(`Bearer ${token}`))).toBe(code);
  });

  it('accepts a tenant-signed v1 token (sts.windows.net issuer, appid only)', async () => {
    const claims = callerClaims({ iss: `https://sts.windows.net/${emulator.tenantId}/`, ver: '1.0' });
    delete claims.azp;
    const token = await emulator.signJwt(claims);
    await expect(authenticator().authenticate(`Bearer ${token}`)).resolves.toMatchObject({
      appId: emulator.callers[0]!.clientId.toLowerCase(),
    });
  });

  it('refuses an unknown kid after one refetch of the real key set', async () => {
    const auth = authenticator({ cooldownMs: 0 });
    await auth.authenticate(`Bearer ${await emulator.callerToken('workload-a')}`);
    const token = await emulator.signJwt(callerClaims(), { header: { kid: 'no-such-key' } });
    expect(await codeOf(auth.authenticate(`Bearer ${token}`))).toBe('caller_token_invalid');
    expect(jwksFetches).toBe(2);
  });

  it('accepts tokens signed by a rolled-over key after one refetch, and still the old key’s tokens', async () => {
    const auth = authenticator({ cooldownMs: 0 });
    const before = await emulator.callerToken('workload-a');
    await auth.authenticate(`Bearer ${before}`);
    await emulator.rollSigningKeys();
    const after = await emulator.callerToken('workload-a');
    await expect(auth.authenticate(`Bearer ${after}`)).resolves.toBeDefined();
    expect(jwksFetches).toBe(2);
    await expect(
      auth.authenticate(`Bearer ${await emulator.signJwt(callerClaims({ jti: '1' }))}`),
    ).resolves.toBeDefined();
  });

  it('keeps accepting valid tokens while the keys endpoint fails, once keys are cached', async () => {
    const auth = authenticator({ keysMaxAgeMs: 0 });
    await auth.authenticate(`Bearer ${await emulator.callerToken('workload-a')}`);
    emulator.setFault({ target: 'jwks', mode: 'status', status: 503 });
    const fresh = await emulator.signJwt(callerClaims({ jti: randomUUID() }));
    await expect(auth.authenticate(`Bearer ${fresh}`)).resolves.toBeDefined();
    expect(jwksFetches).toBe(2); // the failed refetch happened; the cached keys answered
  });

  it.each([
    ['503', { target: 'jwks', mode: 'status', status: 503 }],
    ['malformed', { target: 'jwks', mode: 'malformed' }],
    ['hanging', { target: 'jwks', mode: 'hang' }],
  ] as const)('answers 503 (not 401) when no keys are cached and the keys endpoint is %s', async (_name, fault) => {
    const token = await emulator.callerToken('workload-a');
    emulator.setFault(fault);
    const { handle, tokens } = frontDoor(authenticator({ keysTimeoutMs: 500 }));
    const response: CoreHttpResponse = await handle(request({ headers: { Authorization: `Bearer ${token}` } }));
    expectErrorBody(response, 503, 'temporarily_unavailable');
    expect(response.headers['Retry-After']).toMatch(/^[1-9]\d*$/);
    expect(tokens.calls).toEqual([]);
    emulator.clearFaults();
  });
});
