import { METADATA_KEEP_MS } from '../../../src/tokens/entraHttpClient';
import { acquiredTokenFrom, createEntraTokenClient, openIdMetadataUrl } from '../../../src/tokens/tokenClient';
import { silentLogger } from '../../support/silentLogger';
import { FakeClock } from '../../support/fakes/fakeClock';
import { createRecordingLogger } from '../../support/fakes/recordingLogger';
import { FAKE_SCOPE_A, fakeConfig } from '../../support/fakes/fakeConfig';
import { fakeProperties } from '../../support/fakes/fakeCredentialSource';

const WALL = Date.UTC(2026, 10, 28, 9, 0, 0);
const CLOCK = WALL - 7 * 60_000; // the injected clock is 7 minutes behind the wall clock

describe('acquiredTokenFrom', () => {
  it('moves expiry onto the injected clock: receive time + remaining lifetime (less 1 s of SDK rounding)', () => {
    const token = acquiredTokenFrom({ token: 'eyJ.a.b', expiresOnTimestamp: WALL + 3599_000 }, CLOCK, WALL);
    expect(token).toEqual({ accessToken: 'eyJ.a.b', expiresOnMs: CLOCK + 3598_000, refreshAfterMs: undefined });
  });

  it('a clock off by minutes does not change the lifetime granted', () => {
    const ahead = acquiredTokenFrom({ token: 't', expiresOnTimestamp: WALL + 600_000 }, WALL + 3_600_000, WALL);
    expect(ahead.expiresOnMs - (WALL + 3_600_000)).toBe(599_000);
  });

  it('carries refresh_in over the same way', () => {
    const token = acquiredTokenFrom(
      { token: 't', expiresOnTimestamp: WALL + 7200_000, refreshAfterTimestamp: WALL + 3600_000 },
      CLOCK,
      WALL,
    );
    expect(token.refreshAfterMs).toBe(CLOCK + 3600_000);
  });

  it('ignores a refresh hint that is not before expiry', () => {
    const token = acquiredTokenFrom(
      { token: 't', expiresOnTimestamp: WALL + 60_000, refreshAfterTimestamp: WALL + 120_000 },
      CLOCK,
      WALL,
    );
    expect(token.refreshAfterMs).toBeUndefined();
  });

  it.each([
    ['null', null],
    ['an empty token', { token: '', expiresOnTimestamp: WALL + 3599_000 }],
    ['a past expiry', { token: 't', expiresOnTimestamp: WALL - 1 }],
    ['an expiry now (expires_in 0)', { token: 't', expiresOnTimestamp: WALL }],
    ['a NaN expiry', { token: 't', expiresOnTimestamp: Number.NaN }],
    ['an infinite expiry', { token: 't', expiresOnTimestamp: Number.POSITIVE_INFINITY }],
  ])('refuses %s with entra_malformed_response', (_what, token) => {
    expect(() => acquiredTokenFrom(token, CLOCK, WALL, 200)).toThrow(
      expect.objectContaining({ code: 'entra_malformed_response', upstreamStatus: 200 }),
    );
  });
});

describe('createEntraTokenClient', () => {
  const config = fakeConfig({ CLIENT_CREDENTIAL_KIND: 'federated' });

  it('federated without a managed identity → credential_invalid before any request', async () => {
    const client = createEntraTokenClient({ config, logger: silentLogger });
    const federated = {
      kind: 'federated' as const,
      properties: fakeProperties({ name: 'x', kind: 'federated', version: 'federated' }),
    };
    await expect(client.acquire(federated, FAKE_SCOPE_A)).rejects.toMatchObject({
      code: 'credential_invalid',
    });
  });

  it('an unusable certificate PEM → credential_invalid before any request', async () => {
    const client = createEntraTokenClient({ config, logger: silentLogger });
    const certificate = {
      kind: 'certificate' as const,
      pem: 'not a pem',
      properties: fakeProperties({ name: 'x', kind: 'certificate', version: 'v1' }),
    };
    await expect(client.acquire(certificate, FAKE_SCOPE_A)).rejects.toMatchObject({
      code: 'credential_invalid',
    });
  });
});

/**
 * The real msal-node ConfidentialClientApplication, over a fake `fetch` that plays Entra on a
 * non-Microsoft authority host (as the emulator is), so every request the SDK makes is seen.
 */
describe('createEntraTokenClient over msal-node', () => {
  const HOST = 'https://login.example.test';
  const config = fakeConfig({ ENTRA_AUTHORITY_HOST: HOST });
  const TOKEN_URL = `${HOST}/${config.tenantId}/oauth2/v2.0/token`;
  const secret = {
    kind: 'secret' as const,
    secret: 'not-a-real-secret',
    properties: fakeProperties({ name: 'x', kind: 'secret', version: 'v1' }),
  };

  interface Seen {
    url: string;
    method: string;
    body: string;
    headers: Headers;
    signal: AbortSignal | undefined;
  }
  type Answer = Response | Promise<Response> | (() => Promise<Response>);

  /** Serves the tenant's OpenID metadata, and `answers` (one per token POST, in order). */
  function fakeEntra(...answers: Answer[]): { fetch: typeof fetch; seen: Seen[]; posts: () => Seen[] } {
    const seen: Seen[] = [];
    const fake = async (input: string | URL | Request, init?: RequestInit): Promise<Response> => {
      const url = input instanceof Request ? input.url : input.toString();
      seen.push({
        url,
        method: init?.method ?? 'GET',
        body: typeof init?.body === 'string' ? init.body : '',
        headers: new Headers(init?.headers),
        signal: init?.signal ?? undefined,
      });
      if (url.includes('/.well-known/openid-configuration')) {
        return Response.json({
          issuer: `${HOST}/${config.tenantId}/v2.0`,
          authorization_endpoint: `${HOST}/${config.tenantId}/oauth2/v2.0/authorize`,
          token_endpoint: TOKEN_URL,
          jwks_uri: `${HOST}/${config.tenantId}/discovery/v2.0/keys`,
        });
      }
      const next = answers.shift();
      if (next === undefined) throw new Error('no answer left');
      return typeof next === 'function' ? next() : next;
    };
    return { fetch: fake, seen, posts: () => seen.filter((s) => s.method === 'POST') };
  }

  const ok = (): Response => Response.json({ token_type: 'Bearer', access_token: 'eyJ.a.b', expires_in: 3599 });

  it('sends the client credentials grant with our correlation ID and returns the token', async () => {
    const entra = fakeEntra(ok());
    const client = createEntraTokenClient({ config, logger: silentLogger, fetch: entra.fetch });
    const token = await client.acquire(secret, FAKE_SCOPE_A);
    expect(token.accessToken).toBe('eyJ.a.b');
    const [post] = entra.posts();
    expect(post?.url.startsWith(TOKEN_URL)).toBe(true);
    const form = new URLSearchParams(post?.body);
    expect(form.get('grant_type')).toBe('client_credentials');
    expect(form.get('scope')).toBe(FAKE_SCOPE_A);
    expect(form.get('client_secret')).toBe('not-a-real-secret');
    expect(post?.headers.get('client-request-id') ?? form.get('client-request-id')).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('every acquisition goes to Entra (MSAL cache skipped); the metadata is read once per process per 24 h, also across a new credential', async () => {
    const clock = new FakeClock();
    const entra = fakeEntra(ok(), ok(), ok(), ok());
    const client = createEntraTokenClient({ config, clock, logger: silentLogger, fetch: entra.fetch });
    const gets = (): Seen[] => entra.seen.filter((s) => s.method === 'GET');
    await client.acquire(secret, FAKE_SCOPE_A);
    await client.acquire(secret, FAKE_SCOPE_A);
    expect(entra.posts()).toHaveLength(2);
    expect(gets()).toHaveLength(1);
    // A rotated credential is a new MSAL application, which asks again; the answer is still ours.
    const rotated = { ...secret, properties: fakeProperties({ name: 'x', kind: 'secret', version: 'v2' }) };
    clock.advance(METADATA_KEEP_MS - 1);
    await client.acquire(rotated, FAKE_SCOPE_A);
    expect(entra.posts()).toHaveLength(3);
    expect(gets()).toHaveLength(1);
    // A day later, the next new application reads it again.
    clock.advance(1);
    const rotatedAgain = { ...secret, properties: fakeProperties({ name: 'x', kind: 'secret', version: 'v3' }) };
    await client.acquire(rotatedAgain, FAKE_SCOPE_A);
    expect(entra.posts()).toHaveLength(4);
    expect(gets()).toHaveLength(2);
  });

  describe('warmUp', () => {
    const gets = (seen: Seen[]): string[] => seen.filter((s) => s.method === 'GET').map((s) => s.url);

    it('a non-Microsoft host: reads the URL MSAL reads, and the first acquisition then reads nothing more', async () => {
      const expected = `${HOST}/${config.tenantId}/v2.0/.well-known/openid-configuration`;
      expect(openIdMetadataUrl(config)).toBe(expected);
      // What MSAL itself reads, with no warm-up.
      const cold = fakeEntra(ok());
      await createEntraTokenClient({ config, logger: silentLogger, fetch: cold.fetch }).acquire(secret, FAKE_SCOPE_A);
      expect(gets(cold.seen)).toEqual([expected]);

      const entra = fakeEntra(ok());
      const recording = createRecordingLogger();
      const client = createEntraTokenClient({ config, logger: recording.logger, fetch: entra.fetch });
      await expect(client.warmUp()).resolves.toBe(true);
      expect(gets(entra.seen)).toEqual([expected]);
      expect(entra.posts()).toHaveLength(0);
      expect(recording.lines).toEqual([]);
      await client.acquire(secret, FAKE_SCOPE_A);
      expect(gets(entra.seen)).toEqual([expected]);
      expect(entra.posts()).toHaveLength(1);
    });

    it('builds the URL as MSAL canonicalizes the authority (lower case), whatever the case of the tenant ID', async () => {
      const upper = { ...config, tenantId: config.tenantId.toUpperCase() };
      expect(upper.tenantId).not.toBe(config.tenantId);
      expect(openIdMetadataUrl(upper)).toBe(openIdMetadataUrl(config));
      const cold = fakeEntra(ok());
      await createEntraTokenClient({ config: upper, logger: silentLogger, fetch: cold.fetch }).acquire(
        secret,
        FAKE_SCOPE_A,
      );
      expect(gets(cold.seen)).toEqual([openIdMetadataUrl(upper)]);
    });

    it('a read that joins the first acquisition in flight is one read', async () => {
      const entra = fakeEntra(ok());
      const client = createEntraTokenClient({ config, logger: silentLogger, fetch: entra.fetch });
      const [warm] = await Promise.all([client.warmUp(), client.acquire(secret, FAKE_SCOPE_A)]);
      expect(warm).toBe(true);
      expect(gets(entra.seen)).toHaveLength(1);
    });

    it('a failed read → false and a warning, never a throw; the first acquisition reads again', async () => {
      let gets503 = 1;
      const entra = fakeEntra(ok());
      const flaky = ((input: string | URL | Request, init?: RequestInit) => {
        if ((init?.method ?? 'GET') === 'GET' && gets503-- > 0)
          return Promise.resolve(new Response('busy', { status: 503 }));
        return entra.fetch(input, init);
      }) as typeof fetch;
      const recording = createRecordingLogger();
      const client = createEntraTokenClient({ config, logger: recording.logger, fetch: flaky });
      await expect(client.warmUp()).resolves.toBe(false);
      expect(recording.lines.join('\n')).toContain('EntraMetadataWarmUpFailed');
      expect(recording.lines.join('\n')).toContain('entra_transient');
      await expect(client.acquire(secret, FAKE_SCOPE_A)).resolves.toMatchObject({ accessToken: 'eyJ.a.b' });
      expect(gets(entra.seen)).toHaveLength(1);
    });

    it.each([
      'https://login.microsoftonline.com',
      'https://login.microsoftonline.us',
      'https://login.chinacloudapi.cn',
      'https://login.partner.microsoftonline.cn',
    ])(
      'a Microsoft host (%s): MSAL has the instance and endpoint metadata built in, so there is nothing to read',
      async (host) => {
        const microsoft = fakeConfig({ ENTRA_AUTHORITY_HOST: host });
        expect(openIdMetadataUrl(microsoft)).toBeUndefined();
        const entra = fakeEntra(ok());
        const client = createEntraTokenClient({ config: microsoft, logger: silentLogger, fetch: entra.fetch });
        await expect(client.warmUp()).resolves.toBe(true);
        expect(entra.seen).toHaveLength(0);
        // The real msal-node makes no instance discovery and no metadata request: the token POST only.
        await client.acquire(secret, FAKE_SCOPE_A);
        expect(entra.seen.map((s) => s.method)).toEqual(['POST']);
        expect(entra.posts()[0]?.url).toMatch(
          /^https:\/\/login\.[a-z.]+\/aaaaaaaa-aaaa-aaaa-aaaa-aaaaaaaaaaaa\/oauth2\/v2\.0\/token/,
        );
      },
    );
  });

  it('a 429 with a plain-text body → entra_throttled with its Retry-After, and the next request still goes out', async () => {
    const throttled = new Response('Too many requests', { status: 429, headers: { 'retry-after': '7' } });
    const entra = fakeEntra(throttled, ok());
    const client = createEntraTokenClient({ config, logger: silentLogger, fetch: entra.fetch });
    await expect(client.acquire(secret, FAKE_SCOPE_A)).rejects.toMatchObject({
      code: 'entra_throttled',
      upstreamStatus: 429,
      retryAfterSeconds: 7,
    });
    // MSAL never saw the 429, so it does not refuse this scope locally for 60 s.
    await expect(client.acquire(secret, FAKE_SCOPE_A)).resolves.toMatchObject({ accessToken: 'eyJ.a.b' });
  });

  it('401 invalid_client AADSTS7000215 → entra_credential_rejected; 700213 → entra_configuration', async () => {
    const answer = (aadsts: number): Response =>
      Response.json(
        { error: 'invalid_client', error_description: `AADSTS${aadsts}: x`, error_codes: [aadsts] },
        { status: 401 },
      );
    const entra = fakeEntra(answer(7000215), answer(700213));
    const client = createEntraTokenClient({ config, logger: silentLogger, fetch: entra.fetch });
    await expect(client.acquire(secret, FAKE_SCOPE_A)).rejects.toMatchObject({
      code: 'entra_credential_rejected',
      aadsts: 7000215,
    });
    await expect(client.acquire(secret, FAKE_SCOPE_A)).rejects.toMatchObject({
      code: 'entra_configuration',
      aadsts: 700213,
    });
  });

  it('a 200 with HTML or a bad expires_in → entra_malformed_response', async () => {
    const html = new Response('<html>sign in</html>', { status: 200, headers: { 'content-type': 'text/html' } });
    const badExpiry = Response.json({ token_type: 'Bearer', access_token: 'eyJ.a.b', expires_in: 'soon' });
    const entra = fakeEntra(html, badExpiry);
    const client = createEntraTokenClient({ config, logger: silentLogger, fetch: entra.fetch });
    await expect(client.acquire(secret, FAKE_SCOPE_A)).rejects.toMatchObject({ code: 'entra_malformed_response' });
    await expect(client.acquire(secret, FAKE_SCOPE_A)).rejects.toMatchObject({ code: 'entra_malformed_response' });
  });

  it('a refused connection → entra_transient naming the code', async () => {
    const refused = (): Promise<Response> =>
      Promise.reject(new TypeError('fetch failed', { cause: Object.assign(new Error('x'), { code: 'ECONNREFUSED' }) }));
    const client = createEntraTokenClient({ config, logger: silentLogger, fetch: fakeEntra(refused).fetch });
    await expect(client.acquire(secret, FAKE_SCOPE_A)).rejects.toMatchObject({
      code: 'entra_transient',
      upstreamError: 'ECONNREFUSED',
    });
  });

  it('a reset of a kept-alive socket is tried once more (metadata read and token request), other failures are not', async () => {
    const reset = (): Promise<Response> =>
      Promise.reject(new TypeError('fetch failed', { cause: Object.assign(new Error('x'), { code: 'ECONNRESET' }) }));
    const entra = fakeEntra(reset, ok());
    let gets = 0;
    const flakyMetadata = ((input: string | URL | Request, init?: RequestInit) => {
      if ((init?.method ?? 'GET') === 'GET' && (gets += 1) === 1) return reset();
      return entra.fetch(input, init);
    }) as typeof fetch;
    const client = createEntraTokenClient({ config, logger: silentLogger, fetch: flakyMetadata });
    await expect(client.acquire(secret, FAKE_SCOPE_A)).resolves.toMatchObject({ accessToken: 'eyJ.a.b' });
    expect(gets).toBe(2);
    expect(entra.posts()).toHaveLength(2);
  });

  it('a hung token request → entra_timeout, and its request is really aborted', async () => {
    const hung = (): Promise<Response> => new Promise<Response>(() => undefined);
    const entra = fakeEntra(hung);
    const client = createEntraTokenClient({ config, logger: silentLogger, fetch: entra.fetch });
    await expect(client.acquire(secret, FAKE_SCOPE_A, { timeoutMs: 200 })).rejects.toMatchObject({
      code: 'entra_timeout',
    });
    expect(entra.posts()[0]?.signal?.aborted).toBe(true);
  });

  it('a token request MSAL sends after our deadline goes out already aborted', async () => {
    let releaseMetadata: () => void = () => undefined;
    const metadataHeld = new Promise<void>((resolve) => (releaseMetadata = resolve));
    let postSignal: (signal: AbortSignal | undefined) => void = () => undefined;
    const posted = new Promise<AbortSignal | undefined>((resolve) => (postSignal = resolve));
    const entra = fakeEntra(ok());
    const slowMetadata = (async (input: string | URL | Request, init?: RequestInit) => {
      if ((init?.method ?? 'GET') === 'GET') await metadataHeld;
      else postSignal(init?.signal ?? undefined);
      return entra.fetch(input, init);
    }) as typeof fetch;
    const client = createEntraTokenClient({ config, logger: silentLogger, fetch: slowMetadata });
    await expect(client.acquire(secret, FAKE_SCOPE_A, { timeoutMs: 100 })).rejects.toMatchObject({
      code: 'entra_timeout',
    });
    releaseMetadata();
    expect((await posted)?.aborted).toBe(true);
  });

  it('unavailable OpenID metadata: 400 → entra_configuration, 503 → entra_transient', async () => {
    for (const [status, code] of [
      [400, 'entra_configuration'],
      [503, 'entra_transient'],
    ] as const) {
      const fake = (async () => new Response('no', { status })) as typeof fetch;
      const client = createEntraTokenClient({ config, logger: silentLogger, fetch: fake });
      await expect(client.acquire(secret, FAKE_SCOPE_A)).rejects.toMatchObject({ code, upstreamStatus: status });
    }
  });

  describe('federated', () => {
    const federated = {
      kind: 'federated' as const,
      properties: fakeProperties({ name: 'x', kind: 'federated', version: 'federated' }),
    };

    it('presents the managed identity token for the derived audience as the client assertion', async () => {
      const usGov = fakeConfig({ ENTRA_AUTHORITY_HOST: 'https://login.microsoftonline.us' });
      expect(usGov.tokenExchangeAudience).toBe('api://AzureADTokenExchangeUSGov');
      const asked: string[] = [];
      const managedIdentity = {
        getToken: (scopes: string | string[]) => {
          asked.push(...(Array.isArray(scopes) ? scopes : [scopes]));
          return Promise.resolve({ token: 'mi.assertion.jwt', expiresOnTimestamp: Date.now() + 600_000 });
        },
      };
      const entra = fakeEntra(ok());
      const client = createEntraTokenClient({
        config: { ...config, tokenExchangeAudience: usGov.tokenExchangeAudience },
        logger: silentLogger,
        fetch: entra.fetch,
        managedIdentity,
      });
      await client.acquire(federated, FAKE_SCOPE_A);
      expect(new Set(asked)).toEqual(new Set(['api://AzureADTokenExchangeUSGov/.default']));
      const form = new URLSearchParams(entra.posts()[0]?.body);
      expect(form.get('client_assertion')).toBe('mi.assertion.jwt');
      expect(form.get('client_assertion_type')).toBe('urn:ietf:params:oauth:client-assertion-type:jwt-bearer');
    });

    it('the managed identity endpoint refusing → managed_identity_unavailable, and Entra is not asked', async () => {
      const refused = Object.assign(new Error('ManagedIdentityCredential: Authentication failed.'), {
        name: 'CredentialUnavailableError',
        cause: { name: 'ServerError', status: 400 },
      });
      const entra = fakeEntra();
      const client = createEntraTokenClient({
        config,
        logger: silentLogger,
        fetch: entra.fetch,
        managedIdentity: { getToken: () => Promise.reject(refused) },
      });
      await expect(client.acquire(federated, FAKE_SCOPE_A)).rejects.toMatchObject({
        code: 'managed_identity_unavailable',
        upstreamStatus: 400,
      });
      expect(entra.posts()).toHaveLength(0);
    });
  });
});
