import { FaultInjector, parseFaultSpec } from '../../../dev/emulator/faults';

describe('emulator faults (no sockets)', () => {
  it('validates control API fault bodies', () => {
    expect(parseFaultSpec({ target: 'token', mode: 'status', status: 429, retryAfter: 5, count: 3 })).toEqual({
      target: 'token',
      mode: 'status',
      status: 429,
      retryAfter: 5,
      count: 3,
    });
    expect(parseFaultSpec({ target: 'msi', mode: 'hang' })).toEqual({ target: 'msi', mode: 'hang' });
    expect(parseFaultSpec({ target: 'dns', mode: 'hang' })).toMatch(/target/);
    expect(parseFaultSpec({ target: 'token', mode: 'explode' })).toMatch(/mode/);
    expect(parseFaultSpec({ target: 'token', mode: 'status' })).toMatch(/needs a status/);
    expect(parseFaultSpec({ target: 'token', mode: 'status', status: 99 })).toMatch(/status/);
    expect(parseFaultSpec({ target: 'token', mode: 'hang', count: 0 })).toMatch(/count/);
    expect(parseFaultSpec({ target: 'token', mode: 'malformed', malformedBody: 'xml' })).toMatch(/malformedBody/);
    expect(parseFaultSpec(null)).toMatch(/object/);
  });

  it('consumes counted faults one request at a time, in order, and keeps uncounted ones until cleared', () => {
    const faults = new FaultInjector();
    faults.set({ target: 'token', mode: 'status', status: 429, count: 2 });
    faults.set({ target: 'token', mode: 'status', status: 500 });
    expect(faults.take('keyvault')).toBeUndefined();
    expect(faults.take('token')?.status).toBe(429);
    expect(faults.list()).toEqual([
      { target: 'token', mode: 'status', status: 429, count: 1 },
      { target: 'token', mode: 'status', status: 500 },
    ]);
    expect(faults.take('token')?.status).toBe(429);
    for (let i = 0; i < 5; i++) expect(faults.take('token')?.status).toBe(500);
    faults.clear();
    expect(faults.take('token')).toBeUndefined();
  });

  it('a fault restricted to a client skips other clients', () => {
    const faults = new FaultInjector();
    faults.set({ target: 'token', mode: 'hang', clientId: 'ABC', count: 1 });
    expect(faults.take('token', 'other')).toBeUndefined();
    expect(faults.take('token')).toBeUndefined();
    expect(faults.take('token', 'abc')?.mode).toBe('hang');
    expect(faults.take('token', 'abc')).toBeUndefined();
  });
});
