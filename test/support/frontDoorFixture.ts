/** Shared set-up for the front door's tests: config, fake clock, fake token provider, log capture. */
import { CallerAuthenticator, type CallerAuthenticatorOptions } from '../../src/callers/callerAuth';
import type { Clock } from '../../src/platform/clock';
import { type BrokerConfig, parseConfig, type SettingsSource } from '../../src/contract/config';
import { createLogger, type LogSink, type Logger } from '../../src/platform/logger';
import { RateLimiter } from '../../src/callers/rateLimiter';
import type { CoreHttpRequest, CoreHttpResponse } from '../../src/http/httpTypes';
import { createTokenRequestHandler } from '../../src/http/tokenRequestHandler';
import type { ProviderHealth, ServedToken, TokenProvider } from '../../src/tokens/tokenProvider';
import { JwksEndpoint } from './jwksServer';
import { createSigningKey, DEFAULT_CALLER_APP_ID, JwtFactory, type TestSigningKey } from './jwtFactory';

export const TENANT = '6b1f4c2a-8d3e-4f5a-9b7c-1d2e3f4a5b6c';
export const OTHER_TENANT = '9e8d7c6b-5a4f-4e3d-8c2b-1a0f9e8d7c6b';
export const AUDIENCE = 'api://entra-token-broker';
export const AUDIENCE_GUID = 'c0ffee00-1234-4abc-8def-0123456789ab';
export const SCOPE_A = 'api://Third-Party-API/.default';
export const SCOPE_B = 'api://second-resource/.default';
export const DENIED_APP_ID = 'deadbeef-0000-4000-8000-000000000001';
export const CALLER_APP_ID = DEFAULT_CALLER_APP_ID;
/** 2026-01-01T00:00:00Z */
export const START_MS = Date.UTC(2026, 0, 1);

export const baseSettings: SettingsSource = {
  ENTRA_TENANT_ID: TENANT,
  ENTRA_CLIENT_ID: '22222222-2222-4222-8222-222222222222',
  KEY_VAULT_URL: 'https://kv-broker.vault.azure.net',
  TOKEN_SCOPES: `${SCOPE_A},${SCOPE_B}`,
  CALLER_AUDIENCES: `${AUDIENCE},${AUDIENCE_GUID}`,
  CALLER_POLICY: JSON.stringify({ [CALLER_APP_ID.toUpperCase()]: [SCOPE_A.toLowerCase()], [DENIED_APP_ID]: [] }),
};

export function makeConfig(overrides: SettingsSource = {}): BrokerConfig {
  return parseConfig({ ...baseSettings, ...overrides });
}

export class FakeClock implements Clock {
  constructor(public ms: number = START_MS) {}
  now(): number {
    return this.ms;
  }
  advance(ms: number): void {
    this.ms += ms;
  }
}

export class LogCapture {
  readonly lines: string[] = [];
  readonly logger: Logger;
  constructor(clock?: Clock) {
    this.logger = createLogger({ sink: (line) => this.lines.push(line), clock, minLevel: 'debug' });
  }
  records(): Record<string, unknown>[] {
    return this.lines.map((line) => JSON.parse(line) as Record<string, unknown>);
  }
  events(name: string): Record<string, unknown>[] {
    return this.records().filter((record) => record.event === name);
  }
}

/** A TokenProvider whose answers tests set; counts calls per scope. */
export class FakeTokenProvider implements TokenProvider {
  readonly calls: string[] = [];
  healthState: ProviderHealth = 'ok';
  /** Thrown by getToken when set (tests also throw non-Error values on purpose). */
  failure: unknown;
  lifetimeMs = 3600_000;
  refreshAfterMs = 1800_000;
  accessToken = 'fake-access-token-for-tests';
  cacheHit = true;
  constructor(private readonly clock: Clock) {}

  async getToken(scope: string): Promise<ServedToken> {
    this.calls.push(scope);
    // eslint-disable-next-line @typescript-eslint/only-throw-error -- tests throw arbitrary values on purpose
    if (this.failure !== undefined) throw this.failure;
    const now = this.clock.now();
    return {
      accessToken: this.accessToken,
      expiresOnMs: now + this.lifetimeMs,
      refreshAtMs: now + this.refreshAfterMs,
      scope,
      cacheHit: this.cacheHit,
    };
  }

  health(): ProviderHealth {
    return this.healthState;
  }
}

/** A request as the core sees it. */
export function request(
  init: { method?: string; url?: string; headers?: Record<string, string>; body?: string } = {},
): CoreHttpRequest {
  const url = new URL(init.url ?? 'http://127.0.0.1:7071/api/token');
  const headers = new Headers(init.headers ?? {});
  const body = init.body ?? '';
  return { method: init.method ?? 'GET', url: url.href, headers, query: url.searchParams, text: async () => body };
}

export function parseBody(response: CoreHttpResponse): Record<string, unknown> {
  return JSON.parse(response.body) as Record<string, unknown>;
}

export interface FrontDoor {
  clock: FakeClock;
  config: BrokerConfig;
  key: TestSigningKey;
  jwks: JwksEndpoint;
  jwt: JwtFactory;
  tokens: FakeTokenProvider;
  logs: LogCapture;
  authenticator: CallerAuthenticator;
  rateLimiter: RateLimiter;
  handle: (request: CoreHttpRequest, requestLog?: LogSink) => Promise<CoreHttpResponse>;
  bearer: (token?: string) => Record<string, string>;
}

let sharedKey: TestSigningKey | undefined;
/** One RSA key per test file is enough and saves key generation time. */
export function testKey(): TestSigningKey {
  sharedKey ??= createSigningKey('test-key-1');
  return sharedKey;
}

export function createFrontDoor(
  options: {
    settings?: SettingsSource;
    authenticator?: Partial<CallerAuthenticatorOptions>;
    random?: () => number;
  } = {},
): FrontDoor {
  const clock = new FakeClock();
  const config = makeConfig(options.settings);
  const key = testKey();
  const jwks = new JwksEndpoint([key.publicJwk]);
  const jwt = new JwtFactory({
    tenantId: TENANT,
    audience: AUDIENCE,
    key,
    nowSeconds: () => Math.floor(clock.now() / 1000),
  });
  const tokens = new FakeTokenProvider(clock);
  const logs = new LogCapture(clock);
  const authenticator = new CallerAuthenticator({
    config,
    clock,
    logger: logs.logger,
    fetch: jwks.fetch,
    jwksUri: jwks.uri,
    ...options.authenticator,
  });
  const rateLimiter = RateLimiter.fromConfig(config, clock);
  const handle = createTokenRequestHandler({
    config,
    tokens,
    authenticator,
    rateLimiter,
    logger: logs.logger,
    clock,
    random: options.random ?? (() => 0.5),
  });
  const bearer = (token: string = jwt.sign()): Record<string, string> => ({ Authorization: `Bearer ${token}` });
  return { clock, config, key, jwks, jwt, tokens, logs, authenticator, rateLimiter, handle, bearer };
}

/** The headers every broker response carries, and nothing that sets a cookie. */
export function expectContractHeaders(response: CoreHttpResponse): void {
  expect(response.headers['Content-Type']).toBe('application/json; charset=utf-8');
  expect(response.headers['Cache-Control']).toBe('no-store');
  expect(response.headers.Pragma).toBe('no-cache');
  expect(response.headers['X-Content-Type-Options']).toBe('nosniff');
  expect(Object.keys(response.headers).map((name) => name.toLowerCase())).not.toContain('set-cookie');
}

/** The error shape of docs/openapi.yaml: exactly `error` and `error_description`, both strings. */
export function expectErrorBody(response: CoreHttpResponse, status: number, error: string): Record<string, unknown> {
  expect(response.status).toBe(status);
  expectContractHeaders(response);
  const body = parseBody(response);
  expect(Object.keys(body).sort()).toEqual(['error', 'error_description']);
  expect(body.error).toBe(error);
  expect(typeof body.error_description).toBe('string');
  return body;
}
