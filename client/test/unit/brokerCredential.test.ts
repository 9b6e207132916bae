import type { AccessToken } from '@azure/core-auth';
import { BrokerCredential } from '../../src';
import {
  errorAnswer,
  FakeCallerCredential,
  type FakeBroker,
  fakeJwt,
  ManualClock,
  startFakeBroker,
  tokenAnswer,
} from '../support/fakeBroker';
import { requestFailureOf } from '../support/requestFailureOf';

const SCOPE = 'api://third-party/.default';
const BROKER_SCOPE = 'api://entra-token-broker/.default';

describe('BrokerCredential against a fake broker', () => {
  let broker: FakeBroker;
  let caller: FakeCallerCredential;
  let clock: ManualClock;

  beforeEach(async () => {
    broker = await startFakeBroker();
    caller = new FakeCallerCredential();
    clock = new ManualClock();
  });
  afterEach(() => broker.close());

  const credentialFor = (options: Partial<ConstructorParameters<typeof BrokerCredential>[0]> = {}): BrokerCredential =>
    new BrokerCredential({
      brokerUrl: broker.url,
      brokerScope: BROKER_SCOPE,
      credential: caller,
      now: clock.now,
      retry: { initialRetryDelayMs: 1 },
      ...options,
    });

  /** Everything an error exposes, to look for tokens in it. */
  const everythingOf = (error: unknown): string =>
    JSON.stringify({ ...(error as object), message: (error as Error).message, stack: (error as Error).stack });

  it('1,000 concurrent calls on a cold client: one broker request, one caller token, one shared answer', async () => {
    broker.script(tokenAnswer({ expiresIn: 3600, refreshIn: 1700 }));
    const credential = credentialFor();
    const tokens = await Promise.all(Array.from({ length: 1000 }, () => credential.getToken(SCOPE)));

    expect(broker.requests).toHaveLength(1);
    expect(caller.calls).toBe(1);
    expect(caller.scopes).toEqual([BROKER_SCOPE]);
    expect(new Set(tokens.map((token) => token.token)).size).toBe(1);
    const [request] = broker.requests;
    expect(request).toMatchObject({
      method: 'POST',
      url: '/api/token',
      authorization: `Bearer ${caller.token}`,
      contentType: 'application/x-www-form-urlencoded',
      body: new URLSearchParams({ scope: SCOPE }).toString(),
    });
    expect(tokens[0]).toEqual({
      token: expect.any(String),
      expiresOnTimestamp: clock.nowMs + 3600_000,
      refreshAfterTimestamp: clock.nowMs + 1700_000,
      tokenType: 'Bearer',
    });
  });

  it('serves the cached token until refresh_in, then refreshes in the background while serving it', async () => {
    broker.script(tokenAnswer({ expiresIn: 3600, refreshIn: 1700 }), tokenAnswer({ expiresIn: 3600, refreshIn: 1700 }));
    const credential = credentialFor();
    const first = await credential.getToken([SCOPE]);
    clock.advance(1_699_000);
    expect((await credential.getToken(SCOPE)).token).toBe(first.token);
    expect(broker.requests).toHaveLength(1);

    clock.advance(2_000);
    // Past refresh_in: the held token comes back at once; one request replaces it behind the scenes.
    expect((await credential.getToken(SCOPE)).token).toBe(first.token);
    expect((await credential.getToken(SCOPE)).token).toBe(first.token);
    const second = await untilTokenChanges(credential, first.token);
    expect(broker.requests).toHaveLength(2);
    expect(second.token).not.toBe(first.token);
    expect(second.refreshAfterTimestamp).toBeGreaterThan(clock.nowMs);
  });

  it('keeps serving the held token while refreshes fail, and waits before trying again', async () => {
    broker.script(tokenAnswer({ expiresIn: 3600, refreshIn: 1800 }), errorAnswer(500, 'server_error', 'A bug.'));
    const credential = credentialFor();
    const held = await credential.getToken(SCOPE);
    clock.advance(1_801_000);
    for (let i = 0; i < 50; i += 1) expect((await credential.getToken(SCOPE)).token).toBe(held.token);
    await waitUntil(() => broker.requests.length < 2);
    await new Promise((resolve) => setTimeout(resolve, 50));
    // One failed background refresh, not fifty.
    expect(broker.requests).toHaveLength(2);

    // Still valid but under a minute left: the caller waits for a new token; a failure still returns the held one.
    clock.advance(3600_000 - 1_801_000 - 30_000);
    expect((await credential.getToken(SCOPE)).token).toBe(held.token);
    expect(broker.requests).toHaveLength(3);

    // Expired: the failure reaches the caller.
    clock.advance(31_000);
    await expect(credential.getToken(SCOPE)).rejects.toMatchObject({ code: 'server_error', status: 500 });
  });

  it.each([
    [400, 'invalid_request', 'The scope must be a client-credentials scope ending in /.default.', 'bad_request'],
    [401, 'invalid_token', 'The caller token has expired.', 'caller_token_rejected'],
    [403, 'insufficient_scope', 'The caller is not allowed this scope.', 'forbidden'],
  ])('does not retry a %d: one request, a typed error', async (status, error, description, code) => {
    broker.script(errorAnswer(status, error, description));
    const failure = await requestFailureOf(credentialFor().getToken(SCOPE));
    expect(broker.requests).toHaveLength(1);
    expect(failure).toMatchObject({ code, status, error, error_description: description, scope: SCOPE });
    expect((failure as Error).message).toContain(description);
    expect(everythingOf(failure)).not.toContain(caller.token);
  });

  it('says a 401 is about the audience when the broker or the token says so', async () => {
    broker.script(errorAnswer(401, 'invalid_token', 'The caller token was issued for another audience.'));
    const byDescription = await requestFailureOf(credentialFor().getToken(SCOPE));
    expect(byDescription).toMatchObject({ code: 'caller_token_rejected', likelyCause: 'audience' });
    expect(byDescription.message).toMatch(
      /Likely cause: the audience\. brokerScope "api:\/\/entra-token-broker\/\.default"/,
    );

    broker.script(errorAnswer(401, 'invalid_token', 'The caller token is malformed.'));
    caller = new FakeCallerCredential('https://management.azure.com');
    const byClaims = await requestFailureOf(credentialFor().getToken(SCOPE));
    expect(byClaims.likelyCause).toBe('audience');
  });

  it("says a 401 is about the workload's own credential when the audience is right", async () => {
    broker.script(errorAnswer(401, 'invalid_token', 'The caller token has expired.'));
    const failure = await requestFailureOf(credentialFor().getToken(SCOPE));
    expect(failure.likelyCause).toBe('caller_credential');
    expect(failure.message).toMatch(/Likely cause: the workload's own credential/);
  });

  it.each([
    [429, 'slow_down', 'throttled'],
    [503, 'temporarily_unavailable', 'unavailable'],
  ])('retries a %d after its Retry-After, then succeeds', async (status, error) => {
    broker.script(errorAnswer(status, error, 'Later.', '1'), tokenAnswer());
    const token = await credentialFor().getToken(SCOPE);
    expect(token.token).toEqual(expect.any(String));
    expect(broker.requests).toHaveLength(2);
  });

  it('gives up after maxRetries and hands over the last error with its Retry-After', async () => {
    broker.script(errorAnswer(503, 'temporarily_unavailable', 'Entra is failing.'));
    const failure = await requestFailureOf(
      credentialFor({ retry: { maxRetries: 2, initialRetryDelayMs: 1 } }).getToken(SCOPE),
    );
    expect(broker.requests).toHaveLength(3);
    expect(failure).toMatchObject({ code: 'unavailable', status: 503, error: 'temporarily_unavailable' });
  });

  it('does not wait out a Retry-After longer than maxRetryDelayMs: the caller gets it at once', async () => {
    broker.script(errorAnswer(429, 'slow_down', 'Rate limit.', '120'));
    const failure = await requestFailureOf(credentialFor().getToken(SCOPE));
    expect(broker.requests).toHaveLength(1);
    expect(failure).toMatchObject({ code: 'throttled', retryAfterSeconds: 120 });
  });

  it("stops waiting when the caller's signal fires, without failing the others who wait", async () => {
    broker.script(errorAnswer(503, 'temporarily_unavailable', 'Later.', '1'), tokenAnswer());
    const credential = credentialFor();
    const controller = new AbortController();
    const impatient = credential.getToken(SCOPE, { abortSignal: controller.signal });
    const patient = credential.getToken(SCOPE);
    await waitUntil(() => broker.requests.length === 0);
    controller.abort();
    await expect(impatient).rejects.toMatchObject({ name: 'AbortError' });
    expect((await patient).token).toEqual(expect.any(String));
    expect(broker.requests).toHaveLength(2);
  });

  it('abandons the request when every waiter has given up', async () => {
    broker.script(errorAnswer(503, 'temporarily_unavailable', 'Later.', '1'), tokenAnswer());
    const credential = credentialFor();
    const controller = new AbortController();
    const waiting = credential.getToken(SCOPE, { abortSignal: controller.signal });
    await waitUntil(() => broker.requests.length === 0);
    controller.abort();
    await expect(waiting).rejects.toMatchObject({ name: 'AbortError' });
    await new Promise((resolve) => setTimeout(resolve, 1300));
    expect(broker.requests).toHaveLength(1);
  });

  it('reports a failing caller credential without calling the broker', async () => {
    caller.failWith = new Error('ManagedIdentityCredential: no managed identity endpoint found.');
    const failure = await requestFailureOf(credentialFor().getToken(SCOPE));
    expect(failure).toMatchObject({ code: 'caller_credential_failed', status: 0 });
    expect(failure.message).toContain('no managed identity endpoint found');
    expect(broker.requests).toHaveLength(0);
  });

  it('retries when nothing answers, then reports a network error', async () => {
    const url = broker.url;
    await broker.close();
    const failure = await requestFailureOf(
      new BrokerCredential({
        brokerUrl: url,
        brokerScope: BROKER_SCOPE,
        credential: caller,
        retry: { maxRetries: 2, initialRetryDelayMs: 1 },
      }).getToken(SCOPE),
    );
    expect(failure).toMatchObject({ code: 'network_error', status: 0 });
    expect(caller.calls).toBe(1);
    broker = await startFakeBroker();
  });

  it('refuses a 200 that is not a token response, and masks any token in an error', async () => {
    broker.script({ status: 200, body: { hello: 'proxy' } });
    await expect(credentialFor().getToken(SCOPE)).rejects.toMatchObject({ code: 'invalid_response' });

    const leaked = fakeJwt({ sub: 'leaked' });
    broker.script(errorAnswer(403, 'insufficient_scope', `Not for ${leaked}.`));
    const failure = await requestFailureOf(credentialFor().getToken(SCOPE));
    expect(everythingOf(failure)).not.toContain(leaked);
    expect(failure.error_description).toBe('Not for [token].');
  });

  it('asks for the token with the base URL or the token endpoint alike', async () => {
    await credentialFor({ brokerUrl: `${broker.url}/api/token` }).getToken(SCOPE);
    await credentialFor({ brokerUrl: `${broker.url}/` }).getToken(SCOPE);
    expect(broker.requests.map((request) => request.url)).toEqual(['/api/token', '/api/token']);
  });

  it('refuses invalid options and more than one scope', async () => {
    const base = { brokerScope: BROKER_SCOPE, credential: caller };
    expect(() => new BrokerCredential({ ...base, brokerUrl: 'http://broker.example.com' })).toThrow(/https/);
    expect(() => new BrokerCredential({ ...base, brokerUrl: 'not a url' })).toThrow(TypeError);
    expect(() => new BrokerCredential({ ...base, brokerUrl: broker.url, brokerScope: 'api://broker' })).toThrow(
      /\/\.default/,
    );
    expect(
      () => new BrokerCredential({ brokerUrl: broker.url, brokerScope: BROKER_SCOPE, credential: {} as never }),
    ).toThrow(/TokenCredential/);
    await expect(credentialFor().getToken([SCOPE, 'api://other/.default'])).rejects.toThrow(/exactly one scope/);
    await expect(credentialFor().getToken([])).rejects.toThrow(TypeError);
  });
});

/** Polls until `busy` turns false (a background request has landed, say). */
async function waitUntil(busy: () => boolean): Promise<void> {
  for (let i = 0; i < 500 && busy(); i += 1) await new Promise((resolve) => setTimeout(resolve, 5));
}

/** Calls getToken until it returns another token than `old` (the background refresh has landed). */
async function untilTokenChanges(credential: BrokerCredential, old: string): Promise<AccessToken> {
  for (let i = 0; i < 500; i += 1) {
    const token = await credential.getToken(SCOPE);
    if (token.token !== old) return token;
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  throw new Error('the background refresh never landed');
}
