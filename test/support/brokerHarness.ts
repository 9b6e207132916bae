/**
 * The whole broker as `createBroker` wires it, against one emulator, driven through the real
 * `@azure/functions` HttpRequest and the `token` / `health` function adapters.
 *
 * One harness (so one emulator) per test file: MSAL keeps the managed identity source and its token
 * cache in process-wide statics (see /tmp/EMULATOR_READY "MUST KNOW"). Several brokers may be built
 * from one harness; each gets its own clock (real time plus an offset the test can move).
 *
 * Every log line of every broker and every response (headers and body, the served access token
 * masked) is kept, so a file can end with `expect(harness.findLeaks()).toEqual([])`.
 */
import { HttpRequest, type HttpResponseInit, InvocationContext } from '@azure/functions';
import { startEmulator, type EmulatorOptions, type RunningEmulator } from '../../dev/emulator';
import { type Broker, createBroker } from '../../src/broker';
import type { Clock } from '../../src/platform/clock';
import { parseConfig } from '../../src/contract/config';
import { createHttpFunction } from '../../src/functions/httpFunction';
import { useIdentityEnv } from './identityEnv';

/** Real time plus an offset; `advance` moves the broker's view of time without waiting. */
export class OffsetClock implements Clock {
  constructor(private offsetMs = 0) {}

  now(): number {
    return Date.now() + this.offsetMs;
  }

  advance(ms: number): void {
    this.offsetMs += ms;
  }
}

export interface HarnessAnswer {
  status: number;
  headers: Record<string, string>;
  /** The parsed JSON body. */
  body: Record<string, unknown>;
  text: string;
}

export interface TokenCall {
  /** Emulated caller name (`workload-a`, ...); default `workload-a`. */
  caller?: string;
  /** Scope to ask for; default none (the broker's default scope). */
  scope?: string;
  /** GET (scope in the query) or POST (scope in a form body); default GET. */
  method?: 'GET' | 'POST';
}

export interface HarnessBroker {
  readonly broker: Broker;
  readonly clock: OffsetClock;
  /** A real caller token from the emulated Entra → the `token` function → the broker. */
  readonly callToken: (call?: TokenCall) => Promise<HarnessAnswer>;
  readonly health: () => Promise<HarnessAnswer>;
}

export interface LogRecord {
  level: string;
  component: string;
  event: string;
  [field: string]: unknown;
}

export interface BrokerHarness {
  readonly emulator: RunningEmulator;
  readonly logLines: readonly string[];
  /**
   * Builds a broker from the emulator's settings (overridden by `settings`), with the emulator's CA
   * and the shared log sink.
   */
  build(options?: { settings?: Record<string, string>; clockOffsetMs?: number }): HarnessBroker;
  /** Parsed log lines, optionally only those with one `event` (alerts are lines named after their event). */
  records(event?: string): LogRecord[];
  /** Values that must never appear anywhere (the credential values seen so far are added automatically). */
  addCanary(value: string): void;
  /**
   * Everything that should never be in a log line or a response: canaries, PEM blocks, private keys,
   * JWTs, `client_secret=`, `client_assertion=`, any Authorization value a test sent.
   * @param extra more text to check (to prove the check can fail)
   * @returns one description per problem; empty when clean
   */
  findLeaks(extra?: readonly string[]): string[];
  /** Entra token requests the broker app made for `scope` so far (since the last emulator reset). */
  entraRequests(scope?: string): number;
  /**
   * Adds a credential version (90 days unless `expiresInDays` says otherwise), first waiting for a later
   * second than the previous version's creation (Key Vault's `created` has one-second resolution).
   * @returns the new version
   */
  rotate(options?: { revokePrevious?: boolean; expiresInDays?: number }): Promise<string>;
  /** Restores the environment and closes the emulator. */
  close(): Promise<void>;
}

const JWT = /eyJ[A-Za-z0-9_-]{10,}/;
const FORBIDDEN_SUBSTRINGS = ['-----BEGIN', 'PRIVATE KEY', 'client_secret=', 'client_assertion='];

/**
 * Starts an emulator and sets IDENTITY_ENDPOINT / IDENTITY_HEADER for it (restored by `close`).
 * @param options emulator options; a `clientSecret` is also registered as a canary.
 */
export async function startBrokerHarness(options: EmulatorOptions = {}): Promise<BrokerHarness> {
  // The broker-mode suites rotate to credentials Entra already knows; the activation delay has its
  // own tests (test/integration/warmup/rotation.test.ts), which use the emulator's realistic default.
  const emulator = await startEmulator({ credentialActivationDelaySeconds: 0, ...options });
  const restoreIdentityEnv = useIdentityEnv(emulator);
  /** Creation time of the newest credential version. */
  let lastVersionCreatedMs = Date.now();

  const logLines: string[] = [];
  const responses: string[] = [];
  const authorizations: string[] = [];
  const canaries = new Set<string>();
  const brokers: Broker[] = [];
  if (options.clientSecret) canaries.add(options.clientSecret);

  const rememberCredential = (broker: Broker): void => {
    const credential = broker.credentialSource.peek();
    if (credential?.kind === 'secret') canaries.add(credential.secret);
    if (credential?.kind === 'certificate') {
      const key = /-----BEGIN PRIVATE KEY-----([\s\S]*?)-----END PRIVATE KEY-----/.exec(credential.pem)?.[1] ?? '';
      // Each base64 line of the key on its own: a leak may be re-wrapped or JSON-escaped.
      for (const line of key.split(/\s+/)) if (line.length >= 32) canaries.add(line);
    }
  };

  // The request's own lines (its audit line) reach the host through the invocation's context: record
  // them with the broker's other lines, as the host does.
  const context = (): InvocationContext =>
    new InvocationContext({ logHandler: (_level, ...args) => logLines.push(String(args[0])) });
  const toAnswer = (response: HttpResponseInit): HarnessAnswer => {
    const text = typeof response.body === 'string' ? response.body : '';
    const body = JSON.parse(text) as Record<string, unknown>;
    const headers = { ...(response.headers as Record<string, string>) };
    // The access token is the one secret a 200 must carry; everything else of the response is checked.
    const masked = typeof body.access_token === 'string' ? { ...body, access_token: '[served]' } : body;
    responses.push(JSON.stringify({ status: response.status, headers, body: masked }));
    return { status: response.status ?? 0, headers, body, text };
  };

  const build: BrokerHarness['build'] = (buildOptions = {}) => {
    const clock = new OffsetClock(buildOptions.clockOffsetMs ?? 0);
    const config = parseConfig({ ...emulator.brokerSettings(), ...buildOptions.settings });
    const broker = createBroker(config, {
      clock,
      tlsCaPem: emulator.caPem,
      logSink: (line) => logLines.push(line),
    });
    brokers.push(broker);
    const tokenFunction = createHttpFunction(broker.handleTokenRequest);
    const healthFunction = createHttpFunction(broker.handleHealth);
    return {
      broker,
      clock,
      callToken: async (call = {}) => {
        const authorization = `Bearer ${await emulator.callerToken(call.caller ?? 'workload-a')}`;
        authorizations.push(authorization);
        const method = call.method ?? 'GET';
        const query = method === 'GET' && call.scope !== undefined ? `?scope=${encodeURIComponent(call.scope)}` : '';
        const form = method === 'POST' && call.scope !== undefined ? new URLSearchParams({ scope: call.scope }) : null;
        const request = new HttpRequest({
          method,
          url: `http://127.0.0.1:7071/api/token${query}`,
          headers: {
            Authorization: authorization,
            ...(form ? { 'Content-Type': 'application/x-www-form-urlencoded' } : {}),
          },
          ...(form ? { body: { string: form.toString() } } : {}),
        });
        const answer = toAnswer(await tokenFunction(request, context()));
        rememberCredential(broker);
        return answer;
      },
      health: async () => {
        const request = new HttpRequest({ method: 'GET', url: 'http://127.0.0.1:7071/api/health' });
        return toAnswer(await healthFunction(request, context()));
      },
    };
  };

  const records: BrokerHarness['records'] = (event) =>
    logLines
      .map((line) => JSON.parse(line) as LogRecord)
      .filter((record) => event === undefined || record.event === event);

  const findLeaks: BrokerHarness['findLeaks'] = (extra = []) => {
    for (const broker of brokers) rememberCredential(broker);
    const problems: string[] = [];
    const texts: [string, string][] = [
      ...logLines.map((line, index): [string, string] => [`log line ${index}`, line]),
      ...responses.map((response, index): [string, string] => [`response ${index}`, response]),
      ...extra.map((text, index): [string, string] => [`extra ${index}`, text]),
    ];
    const sentTokens = authorizations.map((value) => value.replace(/^\S+\s+/, '')).filter((token) => token.length > 8);
    for (const [where, text] of texts) {
      for (const canary of canaries) if (text.includes(canary)) problems.push(`${where}: a credential value`);
      for (const needle of FORBIDDEN_SUBSTRINGS) if (text.includes(needle)) problems.push(`${where}: ${needle}`);
      if (JWT.test(text)) problems.push(`${where}: a JWT`);
      for (const token of sentTokens) if (text.includes(token)) problems.push(`${where}: an Authorization value`);
    }
    return problems;
  };

  return {
    emulator,
    logLines,
    build,
    records,
    addCanary: (value) => canaries.add(value),
    findLeaks,
    entraRequests: (scope = emulator.scopes[0]) =>
      emulator.stats().tokenRequests[emulator.broker.clientId]?.[scope ?? ''] ?? 0,
    async rotate(rotation = {}) {
      await untilNextSecond(lastVersionCreatedMs);
      const { version } = await emulator.rotate({ expiresInDays: 90, ...rotation });
      lastVersionCreatedMs = Date.now();
      return version;
    },
    async close() {
      restoreIdentityEnv();
      await emulator.close();
    },
  };
}

/**
 * Waits until the wall clock is in a later second than `sinceMs`: Key Vault's `created` has
 * one-second resolution, and two versions created in the same second cannot be told apart (the
 * rotator then stays on the version in use, on purpose).
 */
export async function untilNextSecond(sinceMs: number): Promise<void> {
  const waitMs = (Math.floor(sinceMs / 1000) + 1) * 1000 - Date.now() + 20;
  if (waitMs > 0) await new Promise((resolve) => setTimeout(resolve, waitMs));
}

/** The docs/openapi.yaml headers every response carries. */
export const CONTRACT_HEADERS = {
  'Cache-Control': 'no-store',
  Pragma: 'no-cache',
  'X-Content-Type-Options': 'nosniff',
} as const;

/**
 * Checks a 200 from the token endpoint against docs/openapi.yaml (body fields and headers) and returns
 * the access token. `nowMs`: the broker's clock.
 */
export function expectServedToken(answer: HarnessAnswer, scope: string, nowMs: number = Date.now()): string {
  expect(answer.status).toBe(200);
  expect(answer.headers).toMatchObject(CONTRACT_HEADERS);
  expect(answer.headers['Content-Type']).toMatch(/^application\/json\b/);
  expect(Object.keys(answer.body).sort()).toEqual(
    ['access_token', 'expires_in', 'expires_on', 'refresh_in', 'scope', 'token_type'].sort(),
  );
  const body = answer.body as Record<string, number | string>;
  expect(body.token_type).toBe('Bearer');
  expect(body.scope).toBe(scope);
  expect(typeof body.access_token).toBe('string');
  for (const field of ['expires_in', 'expires_on', 'refresh_in'] as const) {
    expect(Number.isInteger(body[field])).toBe(true);
  }
  const expiresIn = body.expires_in as number;
  const refreshIn = body.refresh_in as number;
  expect(expiresIn).toBeGreaterThan(0);
  expect(refreshIn).toBeGreaterThanOrEqual(1);
  expect(refreshIn).toBeLessThan(expiresIn);
  // expires_on is the absolute form of expires_in on the broker's clock (a second or two apart at most).
  expect(Math.abs((body.expires_on as number) - Math.floor(nowMs / 1000) - expiresIn)).toBeLessThanOrEqual(2);
  return body.access_token as string;
}

/** Checks a 503 from the token endpoint: contract error body, Retry-After, the usual headers. */
export function expectUnavailable(answer: HarnessAnswer): void {
  expect(answer.status).toBe(503);
  expect(answer.headers).toMatchObject(CONTRACT_HEADERS);
  expect(answer.body).toEqual({
    error: 'temporarily_unavailable',
    error_description: expect.any(String) as unknown,
  });
  expect(answer.headers['Retry-After']).toMatch(/^[1-9]\d*$/);
}

/** The stand-in third-party API's verdict on a bearer token (plain HTTP on 127.0.0.1). */
export async function thirdPartyStatus(emulator: RunningEmulator, accessToken: string): Promise<number> {
  const response = await fetch(emulator.thirdPartyApi.url, { headers: { Authorization: `Bearer ${accessToken}` } });
  await response.arrayBuffer();
  return response.status;
}

/** Statuses of every token call a scenario made, to show that none failed. */
export function statuses(answers: readonly HarnessAnswer[]): number[] {
  return answers.map((answer) => answer.status);
}

/** What the emulator saw of the broker itself (caller tokens are counted too, under the callers' IDs). */
export function brokerTraffic(harness: BrokerHarness): {
  entra: Record<string, number>;
  keyVault: Record<string, number>;
  managedIdentity: number;
} {
  const stats = harness.emulator.stats();
  return {
    entra: stats.tokenRequests[harness.emulator.broker.clientId] ?? {},
    keyVault: stats.keyVaultReads,
    managedIdentity: stats.managedIdentityRequests,
  };
}

/**
 * Acquire, contract, third-party API, cache hit, health: the same for every credential kind.
 * A caller token → `token` function → 200 with the contract's body and headers → the third-party
 * API accepts the token; a second call (POST, explicit scope) is answered from the cache with no
 * Entra, Key Vault or managed identity traffic.
 */
export async function exerciseAcquireAndCache(harness: BrokerHarness): Promise<void> {
  const { emulator } = harness;
  const scope = emulator.scopes[0] as string;
  const { callToken, health, clock } = harness.build();

  const first = await callToken();
  const accessToken = expectServedToken(first, scope, clock.now());
  expect(harness.entraRequests(scope)).toBe(1);
  expect(await thirdPartyStatus(emulator, accessToken)).toBe(200);
  // The same API refuses what it should, so its 200 above means something.
  expect(await thirdPartyStatus(emulator, `${accessToken.slice(0, -4)}AAAA`)).toBe(401);

  const before = brokerTraffic(harness);
  const second = await callToken({ method: 'POST', scope });
  expect(expectServedToken(second, scope, clock.now())).toBe(accessToken);
  expect(brokerTraffic(harness)).toEqual(before);
  const audit = harness.records('TokenRequest').slice(-2);
  expect(audit.map((record) => record.cacheHit)).toEqual([false, true]);

  const healthAnswer = await health();
  expect(healthAnswer.status).toBe(200);
  expect(healthAnswer.body).toEqual({ status: 'ok' });
  expect(healthAnswer.headers).toMatchObject(CONTRACT_HEADERS);
}

/**
 * Refresh ahead: needs an emulator issuing short tokens (700 s) and TOKEN_MIN_LIFETIME_SECONDS 300
 * (the default). Past half-life the cached token is still served at once (cache hit) and exactly one
 * background request to Entra replaces it; the next call gets the new token without another one.
 */
export async function exerciseRefreshAhead(harness: BrokerHarness): Promise<void> {
  const { emulator } = harness;
  const scope = emulator.scopes[0] as string;
  const { broker, callToken, clock } = harness.build();
  expect(broker.config.tokenMinLifetimeSeconds).toBe(300);

  const first = expectServedToken(await callToken(), scope, clock.now());
  expect(harness.entraRequests(scope)).toBe(1);

  // 700 s token: refresh due at ~350 s, servable until ~400 s.
  clock.advance(360_000);
  const due = await callToken();
  expect(expectServedToken(due, scope, clock.now())).toBe(first);
  expect(harness.records('TokenRequest').at(-1)?.cacheHit).toBe(true);
  // Joins the background refresh if it is still running; finds the new token fresh otherwise.
  expect((await broker.engine.refreshIfDue(scope)).outcome).not.toBe('failed');
  expect(harness.entraRequests(scope)).toBe(2);

  const refreshed = expectServedToken(await callToken(), scope, clock.now());
  expect(refreshed).not.toBe(first);
  expect(harness.entraRequests(scope)).toBe(2);
  expect(harness.records('TokenRequest').at(-1)?.cacheHit).toBe(true);
  expect(await thirdPartyStatus(emulator, refreshed)).toBe(200);
}

/** The leak check of a whole file, with proof that it can fail. */
export function expectNoLeaks(harness: BrokerHarness, canary: string): void {
  expect(harness.logLines.length).toBeGreaterThan(10);
  expect(harness.findLeaks()).toEqual([]);
  expect(harness.findLeaks([`{"x":"${canary}"}`])).toEqual(['extra 0: a credential value']);
  expect(harness.findLeaks(['eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln'])).toEqual(['extra 0: a JWT']);
  expect(harness.findLeaks(['client_assertion=abc'])).toEqual(['extra 0: client_assertion=']);
}
