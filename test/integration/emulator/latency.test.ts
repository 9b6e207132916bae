import { startEmulator } from '../../../dev/emulator';
import type { RunningEmulator } from '../../../dev/emulator';
import { UpstreamLatency, latencyTargetOf, parseLatencySpec } from '../../../dev/emulator/latency';
import { httpsJson } from './support';

describe('emulator latency (no sockets)', () => {
  afterEach(() => jest.useRealTimers());

  it('validates control API latency bodies', () => {
    expect(parseLatencySpec({ target: 'all', ms: 50 })).toEqual({ target: 'all', ms: 50 });
    expect(parseLatencySpec({ target: 'jwks', ms: 0 })).toEqual({ target: 'jwks', ms: 0 });
    expect(parseLatencySpec({ target: 'dns', ms: 50 })).toMatch(/target/);
    expect(parseLatencySpec({ target: 'token', ms: -1 })).toMatch(/ms/);
    expect(parseLatencySpec({ target: 'token', ms: 1.5 })).toMatch(/ms/);
    expect(parseLatencySpec({ target: 'token' })).toMatch(/ms/);
    expect(parseLatencySpec(null)).toMatch(/object/);
  });

  it('knows which service a path belongs to', () => {
    expect(latencyTargetOf('/msi/token')).toBe('msi');
    expect(latencyTargetOf('/secrets/entra-client-secret/abc')).toBe('keyvault');
    expect(latencyTargetOf('/certificates/broker-cert')).toBe('keyvault');
    expect(latencyTargetOf('/tid/discovery/v2.0/keys')).toBe('jwks');
    expect(latencyTargetOf('/tid/discovery/keys')).toBe('jwks');
    expect(latencyTargetOf('/tid/oauth2/v2.0/token')).toBe('token');
    expect(latencyTargetOf('/tid/v2.0/.well-known/openid-configuration')).toBe('token');
    expect(latencyTargetOf('/common/discovery/instance')).toBe('token');
    expect(latencyTargetOf('/_emulator/stats')).toBeUndefined();
    expect(latencyTargetOf('/nowhere')).toBeUndefined();
  });

  it('holds a request of a delayed service for exactly its latency, and no other', async () => {
    jest.useFakeTimers();
    const latency = new UpstreamLatency();
    latency.set({ target: 'keyvault', ms: 50 });
    let released = false;
    void latency.delay('/secrets/x').then(() => (released = true));
    let other = false;
    void latency.delay('/msi/token').then(() => (other = true));
    await jest.advanceTimersByTimeAsync(0);
    expect(other).toBe(true);
    await jest.advanceTimersByTimeAsync(49);
    expect(released).toBe(false);
    await jest.advanceTimersByTimeAsync(1);
    expect(released).toBe(true);
  });

  it('sets every service with `all`, removes one with 0, and clears', () => {
    const latency = new UpstreamLatency();
    latency.set({ target: 'all', ms: 20 });
    expect(latency.list()).toEqual({ token: 20, keyvault: 20, jwks: 20, msi: 20 });
    latency.set({ target: 'jwks', ms: 0 });
    expect(latency.list()).toEqual({ token: 20, keyvault: 20, msi: 20 });
    latency.clear();
    expect(latency.list()).toEqual({});
  });
});

describe('emulator latency through the control API', () => {
  let emulator: RunningEmulator;
  beforeAll(async () => {
    emulator = await startEmulator();
  });
  afterAll(async () => {
    await emulator.close();
  });

  it('sets, lists and clears latency; reset clears it too; a bad body is a 400', async () => {
    const ca = emulator.caPem;
    const url = `${emulator.controlUrl}/latency`;
    expect((await httpsJson(url, { ca, method: 'POST', json: { target: 'msi', ms: 5 } })).body).toEqual({
      latency: { msi: 5 },
    });
    expect((await httpsJson(url, { ca })).body).toEqual({ latency: { msi: 5 } });
    expect((await httpsJson(url, { ca, method: 'DELETE' })).body).toEqual({ latency: {} });
    await httpsJson(url, { ca, method: 'POST', json: { target: 'all', ms: 5 } });
    emulator.reset();
    expect((await httpsJson(url, { ca })).body).toEqual({ latency: {} });
    const bad = await httpsJson(url, { ca, method: 'POST', json: { target: 'token', ms: 'slow' } });
    expect(bad.status).toBe(400);
  });

  it('tells an in-process listener of each upstream request as it arrives, before its latency, until stopped', async () => {
    emulator.setLatency({ target: 'jwks', ms: 200 });
    const arrivals: { target: string; path: string; atMs: number }[] = [];
    const stop = emulator.onUpstreamRequest((arrival) => arrivals.push(arrival));
    const sentAt = performance.now();
    let settled = false;
    const answered = httpsJson(emulator.jwksUri, { ca: emulator.caPem }).finally(() => (settled = true));
    // The arrival is reported while the request is still held by its 200 ms.
    while (arrivals.length === 0 && !settled) await new Promise((resolve) => setTimeout(resolve, 5));
    expect(settled).toBe(false);
    expect(arrivals).toEqual([
      { target: 'jwks', path: new URL(emulator.jwksUri).pathname, atMs: expect.any(Number) as number },
    ]);
    expect(arrivals[0]!.atMs).toBeGreaterThanOrEqual(sentAt);
    expect((await answered).status).toBe(200);
    // The control API is not an upstream; after stop, nothing more is reported.
    await httpsJson(`${emulator.controlUrl}/latency`, { ca: emulator.caPem });
    stop();
    emulator.clearLatency();
    await httpsJson(emulator.jwksUri, { ca: emulator.caPem });
    expect(arrivals).toHaveLength(1);
  });

  it('a delayed service still answers as before', async () => {
    emulator.setLatency({ target: 'all', ms: 5 });
    const keys = await httpsJson(emulator.jwksUri, { ca: emulator.caPem });
    expect(keys.status).toBe(200);
    expect((keys.body as { keys: unknown[] }).keys.length).toBeGreaterThan(0);
    emulator.clearLatency();
  });
});
