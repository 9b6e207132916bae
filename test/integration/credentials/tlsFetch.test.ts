import { startEmulator, type RunningEmulator } from '../../../dev/emulator';
import { createTlsFetch } from '../../../src/platform/tlsFetch';

describe('createTlsFetch', () => {
  let emulator: RunningEmulator;

  beforeAll(async () => {
    emulator = await startEmulator();
  });
  afterAll(async () => {
    await emulator.close();
  });
  beforeEach(() => emulator.reset());

  it('without a CA it is the global fetch (production: system trust store)', () => {
    expect(createTlsFetch()).toBe(fetch);
    expect(createTlsFetch('')).toBe(fetch);
  });

  it('trusts the given CA: GET the JWKS', async () => {
    const response = await createTlsFetch(emulator.caPem)(emulator.jwksUri);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/json/);
    const body = (await response.json()) as { keys: unknown[] };
    expect(body.keys.length).toBeGreaterThan(0);
  });

  it('the global fetch does not trust the emulator (this is why the helper exists)', async () => {
    await expect(fetch(emulator.jwksUri)).rejects.toThrow();
  });

  it('POSTs a form body (URLSearchParams) with its content type', async () => {
    const caller = emulator.callers[0]!;
    const response = await createTlsFetch(emulator.caPem)(emulator.tokenEndpoint, {
      method: 'POST',
      body: new URLSearchParams({
        grant_type: 'client_credentials',
        client_id: caller.clientId,
        client_secret: caller.clientSecret,
        scope: `${caller.audience}/.default`,
      }),
    });
    expect(response.status).toBe(200);
    const body = (await response.json()) as { access_token?: string };
    expect(body.access_token).toMatch(/^eyJ/);
  });

  it('passes JSON bodies and headers, and returns error statuses as responses', async () => {
    const response = await createTlsFetch(emulator.caPem)(`${emulator.controlUrl}/faults`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ target: 'jwks', mode: 'status', status: 503, count: 1 }),
    });
    expect(response.ok).toBe(true);
    const failed = await createTlsFetch(emulator.caPem)(emulator.jwksUri);
    expect(failed.status).toBe(503);
  });

  it('honours an AbortSignal on a hung request', async () => {
    emulator.setFault({ target: 'jwks', mode: 'hang' });
    const controller = new AbortController();
    const pending = createTlsFetch(emulator.caPem)(emulator.jwksUri, { signal: controller.signal });
    setTimeout(() => controller.abort(), 50);
    await expect(pending).rejects.toMatchObject({ name: 'AbortError' });
    emulator.clearFaults();
  });

  it('refuses a certificate signed by another CA', async () => {
    const other = await startEmulator();
    try {
      await expect(createTlsFetch(other.caPem)(emulator.jwksUri)).rejects.toThrow();
    } finally {
      await other.close();
    }
  });
});
