/**
 * The whole broker path in one process: a workload's real token from the emulated Entra → the
 * `token` function adapter (real @azure/functions HttpRequest) → caller authentication (jose, the
 * tenant's real keys over HTTPS) → policy → the real TokenEngine (Key Vault via managed identity,
 * Entra via @azure/identity) → a token the stand-in third-party API accepts.
 *
 * Single-flight through the front door, and secrets hygiene: a canary client secret runs through every path;
 * no log line, error body or thrown error holds it, a JWT, `client_secret=` or an Authorization value.
 */
import { randomUUID } from 'node:crypto';
import { HttpRequest, type HttpResponseInit, InvocationContext } from '@azure/functions';
import { startEmulator } from '../../../dev/emulator';
import type { FaultSpec, RunningEmulator } from '../../../dev/emulator';
import { CallerAuthenticator } from '../../../src/callers/callerAuth';
import { type BrokerConfig, parseConfig } from '../../../src/contract/config';
import { createKeyVaultCredentialSource } from '../../../src/credentials/credentialSource';
import { createLogger } from '../../../src/platform/logger';
import { createManagedIdentityCredential } from '../../../src/credentials/managedIdentity';
import { RateLimiter } from '../../../src/callers/rateLimiter';
import { SecretRegistry } from '../../../src/platform/redact';
import { createTlsFetch } from '../../../src/platform/tlsFetch';
import { createEntraTokenClient } from '../../../src/tokens/tokenClient';
import { TokenEngine } from '../../../src/tokens/tokenEngine';
import { createHealthHandler } from '../../../src/http/healthHandler';
import { createTokenRequestHandler } from '../../../src/http/tokenRequestHandler';
import { createHttpFunction } from '../../../src/functions/httpFunction';
import { RecordingAlerts } from '../../support/fakes/recordingAlerts';
import { useIdentityEnv } from '../../support/identityEnv';

const CANARY = `canary-front-door-${randomUUID()}`;

interface Answer {
  status: number;
  headers: Record<string, string>;
  body: Record<string, unknown>;
  text: string;
}

describe('broker end to end through the front door (emulator, real SDKs)', () => {
  let emulator: RunningEmulator;
  const logLines: string[] = [];
  const bodies: string[] = [];
  const sentAuthorizations: string[] = [];
  let restoreIdentityEnv: () => void;

  beforeAll(async () => {
    // Not a test of Entra's activation delay (warmup/rotation.test.ts is): rotated credentials work at once.
    emulator = await startEmulator({ clientSecret: CANARY, credentialActivationDelaySeconds: 0 });
    restoreIdentityEnv = useIdentityEnv(emulator);
  });

  afterAll(async () => {
    restoreIdentityEnv();
    await emulator.close();
  });

  beforeEach(() => emulator.reset());

  afterAll(() => {
    // Secrets hygiene, over every line and body of every test in this file.
    const everything = [...logLines, ...bodies].join('\n');
    expect(logLines.length).toBeGreaterThan(20);
    expect(everything).not.toContain(CANARY);
    expect(everything).not.toMatch(/eyJ[A-Za-z0-9_-]{10,}/);
    expect(everything).not.toContain('client_secret=');
    for (const authorization of sentAuthorizations) {
      const token = authorization.replace(/^\S+\s+/, '');
      if (token.length > 8) expect(everything).not.toContain(token);
    }
  });

  /** A broker as the app would build it, with logs captured raw (no SecretRegistry in the logger on purpose). */
  function buildBroker(settings: Record<string, string> = {}) {
    const config: BrokerConfig = parseConfig({ ...emulator.brokerSettings(), ...settings });
    const logger = createLogger({ sink: (line) => logLines.push(line), minLevel: 'debug' });
    const managedIdentity = createManagedIdentityCredential({ config, tlsCaPem: emulator.caPem });
    const credentialSource = createKeyVaultCredentialSource({
      config,
      managedIdentity,
      logger,
      secrets: new SecretRegistry(),
      tlsCaPem: emulator.caPem,
    });
    const tokenClient = createEntraTokenClient({ config, logger, tlsCaPem: emulator.caPem });
    const engine = new TokenEngine({
      config,
      credentialSource,
      tokenClient,
      alerts: new RecordingAlerts(),
      logger,
      deadlineMs: 4_000,
      attemptTimeoutMs: 1_500,
    });
    const authenticator = new CallerAuthenticator({
      config,
      logger,
      fetch: createTlsFetch(emulator.caPem),
      keysTimeoutMs: 1_000,
    });
    const handle = createTokenRequestHandler({
      config,
      tokens: engine,
      authenticator,
      rateLimiter: RateLimiter.fromConfig(config),
      logger,
    });
    const tokenFunction = createHttpFunction(handle);
    const healthFunction = createHttpFunction(createHealthHandler({ tokens: engine, logger }));
    // The request's own lines (its audit line) reach the host through the invocation's context:
    // record them with the others, as the host does.
    const context = (): InvocationContext =>
      new InvocationContext({ logHandler: (_level, ...args) => logLines.push(String(args[0])) });

    const toAnswer = (response: HttpResponseInit): Answer => {
      const text = typeof response.body === 'string' ? response.body : '';
      const body = JSON.parse(text) as Record<string, unknown>;
      // The access token is the one secret a 200 must carry; everything else is checked.
      bodies.push(JSON.stringify({ ...body, access_token: body.access_token === undefined ? undefined : '[served]' }));
      return { status: response.status ?? 0, headers: response.headers as Record<string, string>, body, text };
    };

    return {
      config,
      engine,
      async token(init: { method?: string; query?: string; headers?: Record<string, string>; body?: string } = {}) {
        const authorization = init.headers?.Authorization;
        if (authorization) sentAuthorizations.push(authorization);
        const request = new HttpRequest({
          method: init.method ?? 'GET',
          url: `http://127.0.0.1:7071/api/token${init.query ? `?${init.query}` : ''}`,
          headers: init.headers,
          body: init.body === undefined ? undefined : { string: init.body },
        });
        return toAnswer(await tokenFunction(request, context()));
      },
      async health() {
        const request = new HttpRequest({ method: 'GET', url: 'http://127.0.0.1:7071/api/health' });
        return toAnswer(await healthFunction(request, context()));
      },
    };
  }

  async function bearer(caller = 'workload-a'): Promise<Record<string, string>> {
    return { Authorization: `Bearer ${await emulator.callerToken(caller)}` };
  }

  function entraRequests(scope: string): number {
    return emulator.stats().tokenRequests[emulator.broker.clientId]?.[scope] ?? 0;
  }

  it('serves workload-a a token that the third-party API accepts', async () => {
    const broker = buildBroker();
    const answer = await broker.token({ headers: await bearer() });
    expect(answer.status).toBe(200);
    expect(answer.body).toMatchObject({ token_type: 'Bearer', scope: emulator.scopes[0] });
    expect(answer.body.expires_in as number).toBeGreaterThan(3000);
    expect(answer.body.refresh_in as number).toBeGreaterThanOrEqual(1);
    const api = await fetch(emulator.thirdPartyApi.url, {
      headers: { Authorization: `Bearer ${answer.body.access_token as string}` },
    });
    expect(api.status).toBe(200);
    expect((await broker.health()).body).toEqual({ status: 'ok' });
  });

  it('10 concurrent cold requests → one Entra request, all 200; then served from the cache', async () => {
    const broker = buildBroker();
    const headers = await bearer();
    const answers = await Promise.all(Array.from({ length: 10 }, () => broker.token({ headers })));
    expect(answers.map((a) => a.status)).toEqual(Array(10).fill(200));
    expect(new Set(answers.map((a) => a.body.access_token)).size).toBe(1);
    expect(entraRequests(emulator.scopes[0]!)).toBe(1);
    expect(emulator.stats().keyVaultReads[emulator.broker.credentialName] ?? 0).toBeLessThanOrEqual(1);
    await broker.token({ headers });
    expect(entraRequests(emulator.scopes[0]!)).toBe(1);
    const audit = logLines.filter((line) => line.includes('"event":"TokenRequest"')).slice(-11);
    expect(audit.filter((line) => line.includes('"cacheHit":true')).length).toBeGreaterThanOrEqual(1);
  });

  it('refuses bad callers and bad requests without any Entra or Key Vault traffic', async () => {
    const broker = buildBroker();
    const good = await bearer();
    const cases: [Promise<Answer>, number][] = [
      [broker.token(), 401],
      [broker.token({ headers: { Authorization: `Basic ${Buffer.from(`x:${CANARY}`).toString('base64')}` } }), 401],
      [broker.token({ headers: { Authorization: `Bearer ${await emulator.signJwt({ aud: 'x' })}` } }), 401],
      [broker.token({ headers: await bearer('workload-denied') }), 403],
      [broker.token({ headers: await bearer('workload-norole') }), 403],
      [broker.token({ headers: good, query: `scope=${encodeURIComponent(emulator.scopes[1]!)}` }), 403],
      [broker.token({ headers: good, query: 'scope=api%3A%2F%2Fx%2Fread' }), 400],
      [broker.token({ headers: good, query: `access_token=${CANARY}` }), 400],
      [broker.token({ method: 'DELETE', headers: good }), 405],
      [broker.token({ method: 'POST', headers: { ...good, 'Content-Type': 'text/plain' }, body: CANARY }), 415],
      [
        broker.token({
          method: 'POST',
          headers: { ...good, 'Content-Type': 'application/x-www-form-urlencoded' },
          body: `client_secret=${CANARY}&scope=${'a'.repeat(5000)}`,
        }),
        413,
      ],
      [
        broker.token({
          method: 'POST',
          headers: { ...good, 'Content-Type': 'application/json' },
          body: `{"scope": "${CANARY}`,
        }),
        400,
      ],
    ];
    for (const [answer, status] of cases) expect((await answer).status).toBe(status);
    expect(emulator.stats().tokenRequests[emulator.broker.clientId]).toBeUndefined();
    expect(emulator.stats().keyVaultReads).toEqual({});
  });

  it.each<[string, FaultSpec]>([
    ['Entra answers 503', { target: 'token', mode: 'status', status: 503 }],
    ['Entra throttles with Retry-After', { target: 'token', mode: 'status', status: 429, retryAfter: 7 }],
    ['Entra answers HTML', { target: 'token', mode: 'malformed' }],
    ['Key Vault refuses (403)', { target: 'keyvault', mode: 'status', status: 403 }],
  ])('answers 503 with Retry-After, never upstream text, when %s', async (_name, fault) => {
    const broker = buildBroker();
    const headers = await bearer();
    emulator.setFault(fault);
    const answer = await broker.token({ headers });
    expect(answer.status).toBe(503);
    expect(answer.body).toEqual({
      error: 'temporarily_unavailable',
      error_description: 'No token can be obtained right now; try again later.',
    });
    expect(answer.headers['Retry-After']).toMatch(/^[1-9]\d*$/);
    expect((await broker.health()).status).toBe(503);
    emulator.clearFaults();
  });

  it('answers 503 when the broker’s own secret is revoked in Entra, and recovers after a rotation', async () => {
    const broker = buildBroker();
    const headers = await bearer();
    const version = await emulator.rotate({ revokePrevious: true });
    emulator.revokeCredential(version.version);
    const answer = await broker.token({ headers });
    expect(answer.status).toBe(503);
    await emulator.rotate({});
    const recovered = await buildBroker().token({ headers });
    expect(recovered.status).toBe(200);
  });

  it('answers 503 (not 401) when the caller keys cannot be fetched and none are cached', async () => {
    const broker = buildBroker();
    const headers = await bearer();
    emulator.setFault({ target: 'jwks', mode: 'status', status: 500 });
    const answer = await broker.token({ headers });
    expect(answer.status).toBe(503);
    expect(answer.headers['Retry-After']).toMatch(/^[1-9]\d*$/);
    emulator.clearFaults();
  });
});
