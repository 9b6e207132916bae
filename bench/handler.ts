/**
 * In-process cost of the token endpoint on a cache hit, against a baseline measured in the same run.
 *
 *   tokenHandler   createTokenRequestHandler with the real CallerAuthenticator (verified-token
 *                  cache hit: no RSA), RateLimiter, policy, the real TokenEngine (token cache hit,
 *                  fake credential source and token client that are never called after warm-up),
 *                  and the real logger writing the audit line to a sink that drops it
 *   baseline       reads the same request (method, Authorization, scope) and returns fixed JSON
 *                  with the same headers
 *   coldVerify     the token handler when every request carries a new caller token (RSA verification)
 *
 * Prints ONE JSON object: per case median / p99 / mean in microseconds, and the ratios.
 * Run: npx esbuild bench/handler.ts --bundle --platform=node --outfile=dist/bench/handler.js && node dist/bench/handler.js
 */
import { generateKeyPairSync, sign } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import type { JWK } from 'jose';
import { CallerAuthenticator } from '../src/callers/callerAuth';
import { parseConfig } from '../src/contract/config';
import type { ClientCredential, CredentialProperties, CredentialSource } from '../src/credentials/credentialTypes';
import { BASE_RESPONSE_HEADERS } from '../src/http/httpResponses';
import { createLogger } from '../src/platform/logger';
import { RateLimiter } from '../src/callers/rateLimiter';
import type { AcquiredToken, TokenClient } from '../src/tokens/tokenClient';
import { TokenEngine } from '../src/tokens/tokenEngine';
import type { CoreHttpRequest, CoreHttpResponse } from '../src/http/httpTypes';
import { createTokenRequestHandler } from '../src/http/tokenRequestHandler';

const TENANT = '6b1f4c2a-8d3e-4f5a-9b7c-1d2e3f4a5b6c';
const CALLER = '3f9a7c2e-1b4d-4e8f-9a6b-5c7d8e9f0a1b';
const AUDIENCE = 'api://entra-token-broker';
const SCOPE = 'api://third-party-api/.default';
const WARMUP = 2_000;
const ITERATIONS = Number(process.env.BENCH_ITERATIONS ?? 20_000);
const COLD_ITERATIONS = Math.min(ITERATIONS, 2_000);

const config = parseConfig({
  ENTRA_TENANT_ID: TENANT,
  ENTRA_CLIENT_ID: '22222222-2222-4222-8222-222222222222',
  KEY_VAULT_URL: 'https://kv-broker.vault.azure.net',
  TOKEN_SCOPES: SCOPE,
  CALLER_AUDIENCES: AUDIENCE,
  CALLER_POLICY: JSON.stringify({ [CALLER]: [SCOPE] }),
  CALLER_RATE_LIMIT_PER_MINUTE: '1000000',
});

const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const jwk: JWK = { ...(publicKey.export({ format: 'jwk' }) as JWK), kid: 'bench', use: 'sig', alg: 'RS256' };
const keysFetch = (async () =>
  new Response(JSON.stringify({ keys: [jwk] }), { headers: { 'content-type': 'application/json' } })) as typeof fetch;

let jti = 0;
function callerToken(): string {
  const now = Math.floor(Date.now() / 1000);
  const b64 = (value: unknown): string => Buffer.from(JSON.stringify(value)).toString('base64url');
  const input = `${b64({ alg: 'RS256', typ: 'JWT', kid: 'bench' })}.${b64({
    aud: AUDIENCE,
    iss: `https://login.microsoftonline.com/${TENANT}/v2.0`,
    iat: now,
    nbf: now,
    exp: now + 3600,
    tid: TENANT,
    azp: CALLER,
    oid: CALLER,
    idtyp: 'app',
    roles: ['Token.Request'],
    jti: jti++,
  })}`;
  return `${input}.${sign('sha256', Buffer.from(input), privateKey).toString('base64url')}`;
}

const properties: CredentialProperties = {
  name: 'entra-client-secret',
  kind: 'secret',
  version: 'v1',
  enabled: true,
  expiresOnMs: undefined,
  notBeforeMs: undefined,
  createdOnMs: undefined,
  updatedOnMs: undefined,
};
const credential: ClientCredential = { kind: 'secret', properties, secret: 'bench-secret-value' };
const credentialSource: CredentialSource = {
  current: async () => credential,
  peek: () => credential,
  latestProperties: async () => properties,
  load: async () => credential,
  promote: () => undefined,
};
const tokenClient: TokenClient = {
  acquire: async (): Promise<AcquiredToken> => ({
    accessToken: 'bench-access-token',
    expiresOnMs: Date.now() + 3600_000,
    refreshAfterMs: undefined,
  }),
  warmUp: async () => true,
};

function makeRequest(authorization: string): CoreHttpRequest {
  const url = new URL(`http://127.0.0.1:7071/api/token?scope=${encodeURIComponent(SCOPE)}`);
  const headers = new Headers({ authorization });
  return { method: 'GET', url: url.href, headers, query: url.searchParams, text: async () => '' };
}

const baseline = async (request: CoreHttpRequest): Promise<CoreHttpResponse> => {
  // Reads what the real handler reads, then answers a constant.
  const authorization = request.headers.get('authorization');
  const scope = request.query.get('scope');
  if (request.method.toUpperCase() !== 'GET' || authorization === null || scope === null) {
    return { status: 400, headers: { ...BASE_RESPONSE_HEADERS }, body: '{}' };
  }
  return {
    status: 200,
    headers: { ...BASE_RESPONSE_HEADERS },
    body: JSON.stringify({
      token_type: 'Bearer',
      access_token: 'bench-access-token',
      expires_in: 3599,
      expires_on: 1764330000,
      scope,
      refresh_in: 1650,
    }),
  };
};

interface Stats {
  medianUs: number;
  p99Us: number;
  meanUs: number;
  iterations: number;
}

async function measure(
  handle: (request: CoreHttpRequest) => Promise<CoreHttpResponse>,
  requests: () => CoreHttpRequest,
  iterations: number,
): Promise<Stats> {
  const samples = new Float64Array(iterations);
  for (let i = 0; i < iterations; i++) {
    const request = requests();
    const start = performance.now();
    const response = await handle(request);
    samples[i] = (performance.now() - start) * 1000;
    if (response.status !== 200) throw new Error(`unexpected status ${response.status}: ${response.body}`);
  }
  samples.sort();
  const round = (value: number): number => Math.round(value * 100) / 100;
  return {
    medianUs: round(samples[Math.floor(iterations / 2)] ?? 0),
    p99Us: round(samples[Math.floor(iterations * 0.99)] ?? 0),
    meanUs: round(samples.reduce((sum, value) => sum + value, 0) / iterations),
    iterations,
  };
}

async function main(): Promise<void> {
  const logger = createLogger({ sink: () => undefined });
  const engine = new TokenEngine({ config, credentialSource, tokenClient, alerts: { raise: () => undefined }, logger });
  const handler = createTokenRequestHandler({
    config,
    tokens: engine,
    authenticator: new CallerAuthenticator({ config, logger, fetch: keysFetch }),
    rateLimiter: RateLimiter.fromConfig(config),
    logger,
  });

  const hot = makeRequest(`Bearer ${callerToken()}`);
  const coldTokens = Array.from({ length: COLD_ITERATIONS + WARMUP }, () => `Bearer ${callerToken()}`);
  let cold = 0;

  // Warm-up: JIT, the key set, the token cache, the verified-token cache.
  await measure(handler, () => hot, WARMUP);
  await measure(baseline, () => hot, WARMUP);
  await measure(handler, () => makeRequest(coldTokens[cold++]!), WARMUP);

  // Interleave the two measured cases so that machine noise hits both alike.
  const rounds = 4;
  const handlerRuns: Stats[] = [];
  const baselineRuns: Stats[] = [];
  for (let round = 0; round < rounds; round++) {
    baselineRuns.push(await measure(baseline, () => hot, ITERATIONS / rounds));
    handlerRuns.push(await measure(handler, () => hot, ITERATIONS / rounds));
  }
  const coldRun = await measure(handler, () => makeRequest(coldTokens[cold++]!), COLD_ITERATIONS);

  const medianOf = (runs: Stats[], key: keyof Stats): number =>
    [...runs.map((run) => run[key])].sort((a, b) => a - b)[Math.floor(runs.length / 2)] ?? 0;
  const summary = (runs: Stats[]) => ({
    medianUs: medianOf(runs, 'medianUs'),
    p99Us: medianOf(runs, 'p99Us'),
    meanUs: medianOf(runs, 'meanUs'),
    iterations: ITERATIONS,
  });
  const tokenHandler = summary(handlerRuns);
  const base = summary(baselineRuns);
  console.log(
    JSON.stringify({
      node: process.version,
      tokenHandler,
      baseline: base,
      coldVerify: coldRun,
      medianRatio: Math.round((tokenHandler.medianUs / base.medianUs) * 10) / 10,
      p99Ratio: Math.round((tokenHandler.p99Us / base.p99Us) * 10) / 10,
      medianOverheadUs: Math.round((tokenHandler.medianUs - base.medianUs) * 100) / 100,
    }),
  );
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
