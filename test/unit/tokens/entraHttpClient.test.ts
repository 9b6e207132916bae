import { EntraHttpClient, METADATA_KEEP_MS } from '../../../src/tokens/entraHttpClient';

/** The authority metadata reads (GETs) MSAL makes through our network module. */
describe('EntraHttpClient metadata reads', () => {
  const URL_A = 'https://login.example.test/tenant/v2.0/.well-known/openid-configuration';
  const URL_B = 'https://login.example.test/other/v2.0/.well-known/openid-configuration';
  const document = { issuer: 'https://login.example.test/tenant/v2.0', token_endpoint: 'https://x/token' };

  /** An answer the test releases when it chooses. */
  function heldAnswer(): { held: Promise<Response>; answer: (response: Response) => void } {
    let answer: (response: Response) => void = () => undefined;
    const held = new Promise<Response>((resolve) => (answer = resolve));
    return { held, answer };
  }

  function harness(...answers: (() => Promise<Response>)[]) {
    let nowMs = 1_000_000;
    const fetched: string[] = [];
    const fake = ((input: string | URL | Request) => {
      fetched.push(input instanceof Request ? input.url : input.toString());
      const next = answers.shift();
      return next === undefined ? Promise.resolve(Response.json(document)) : next();
    }) as typeof fetch;
    const http = new EntraHttpClient(fake, () => nowMs);
    return {
      http,
      fetched,
      advance: (ms: number) => (nowMs += ms),
    };
  }

  it('keeps a 200 with a JSON object per URL: a second read of the same URL goes nowhere', async () => {
    const h = harness();
    const first = await h.http.sendGetRequestAsync(URL_A);
    const second = await h.http.sendGetRequestAsync(URL_A);
    expect(h.fetched).toEqual([URL_A]);
    expect(second).toEqual(first);
    expect(second.body).toEqual(document);
    expect(second.status).toBe(200);
    await h.http.sendGetRequestAsync(URL_B);
    expect(h.fetched).toEqual([URL_A, URL_B]);
  });

  it('reads again once 24 h have passed on the injected clock, not before', async () => {
    expect(METADATA_KEEP_MS).toBe(24 * 60 * 60 * 1000);
    const h = harness();
    await h.http.sendGetRequestAsync(URL_A);
    h.advance(METADATA_KEEP_MS - 1);
    await h.http.sendGetRequestAsync(URL_A);
    expect(h.fetched).toHaveLength(1);
    h.advance(1);
    await h.http.sendGetRequestAsync(URL_A);
    expect(h.fetched).toHaveLength(2);
    // The new answer is kept for another 24 h from its arrival.
    h.advance(METADATA_KEEP_MS - 1);
    await h.http.sendGetRequestAsync(URL_A);
    expect(h.fetched).toHaveLength(2);
  });

  it('concurrent callers share one read in flight, and each gets its own copy', async () => {
    const { held, answer } = heldAnswer();
    const h = harness(() => held);
    const a = h.http.sendGetRequestAsync<Record<string, unknown>>(URL_A);
    const b = h.http.sendGetRequestAsync<Record<string, unknown>>(URL_A);
    await Promise.resolve();
    expect(h.fetched).toHaveLength(1);
    answer(Response.json(document, { headers: { 'x-ms-request-id': 'r1' } }));
    const [ra, rb] = await Promise.all([a, b]);
    expect(h.fetched).toHaveLength(1);
    expect(ra).toEqual(rb);
    expect(ra.body).not.toBe(rb.body);
    expect(ra.headers).not.toBe(rb.headers);
  });

  it('what a caller changes in its copy is not what the next caller gets', async () => {
    const h = harness(() => Promise.resolve(Response.json(document, { headers: { 'x-ms-request-id': 'r1' } })));
    const first = await h.http.sendGetRequestAsync<Record<string, unknown>>(URL_A);
    first.body['token_endpoint'] = 'https://changed/token';
    first.headers['x-ms-request-id'] = 'changed';
    const second = await h.http.sendGetRequestAsync<Record<string, unknown>>(URL_A);
    expect(h.fetched).toHaveLength(1);
    expect(second.body).toEqual(document);
    expect(second.headers['x-ms-request-id']).toBe('r1');
  });

  it('a failure is never kept: it sets metadataFailure, the next call reads again, and its success clears it', async () => {
    const refused = (): Promise<Response> =>
      Promise.reject(new TypeError('fetch failed', { cause: Object.assign(new Error('x'), { code: 'ECONNREFUSED' }) }));
    const h = harness(
      () => Promise.resolve(new Response('busy', { status: 503 })),
      () => Promise.resolve(new Response('<html></html>', { status: 200 })),
      refused,
      refused,
    );
    await expect(h.http.sendGetRequestAsync(URL_A)).rejects.toMatchObject({
      code: 'entra_transient',
      upstreamStatus: 503,
    });
    expect(h.http.metadataFailure).toMatchObject({ code: 'entra_transient', upstreamStatus: 503 });
    // A 200 that is not a JSON object counts as a bad gateway.
    await expect(h.http.sendGetRequestAsync(URL_A)).rejects.toMatchObject({
      code: 'entra_transient',
      upstreamStatus: 502,
    });
    // A refused connection is tried once more (the kept-alive retry), then fails; still not kept.
    await expect(h.http.sendGetRequestAsync(URL_A)).rejects.toMatchObject({
      code: 'entra_transient',
      upstreamError: 'ECONNREFUSED',
    });
    expect(h.fetched).toHaveLength(4);
    await expect(h.http.sendGetRequestAsync(URL_A)).resolves.toMatchObject({ body: document });
    expect(h.http.metadataFailure).toBeUndefined();
    expect(h.fetched).toHaveLength(5);
    await h.http.sendGetRequestAsync(URL_A);
    expect(h.fetched).toHaveLength(5);
  });

  it('callers sharing a failed read all get the failure, and the next call reads again', async () => {
    const { held, answer } = heldAnswer();
    const h = harness(() => held);
    const a = h.http.sendGetRequestAsync(URL_A);
    const b = h.http.sendGetRequestAsync(URL_A);
    answer(new Response('no', { status: 400 }));
    await expect(a).rejects.toMatchObject({ code: 'entra_configuration' });
    await expect(b).rejects.toMatchObject({ code: 'entra_configuration' });
    expect(h.fetched).toHaveLength(1);
    await expect(h.http.sendGetRequestAsync(URL_A)).resolves.toMatchObject({ body: document });
    expect(h.fetched).toHaveLength(2);
  });

  it('a success other than 200 is served but not kept', async () => {
    const h = harness(() => Promise.resolve(Response.json(document, { status: 203 })));
    await expect(h.http.sendGetRequestAsync(URL_A)).resolves.toMatchObject({ status: 203, body: document });
    await h.http.sendGetRequestAsync(URL_A);
    expect(h.fetched).toHaveLength(2);
  });
});
