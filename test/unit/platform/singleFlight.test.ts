import { SingleFlight } from '../../../src/platform/singleFlight';

describe('SingleFlight', () => {
  it('runs one operation per key and shares its result', async () => {
    const flights = new SingleFlight<string, number>();
    let started = 0;
    let release!: (value: number) => void;
    const start = () => {
      started += 1;
      return new Promise<number>((resolve) => (release = resolve));
    };
    const results = Promise.all([flights.run('a', start), flights.run('a', start), flights.run('a', start)]);
    expect(started).toBe(1);
    expect(flights.get('a')).toBeDefined();
    release(7);
    expect(await results).toEqual([7, 7, 7]);
    expect(flights.size).toBe(0);
  });

  it('keeps keys apart', async () => {
    const flights = new SingleFlight<string, string>();
    const [a, b] = await Promise.all([flights.run('a', async () => 'A'), flights.run('b', async () => 'B')]);
    expect([a, b]).toEqual(['A', 'B']);
  });

  it('forgets a failure at once so that the next call starts again (no cached rejection)', async () => {
    const flights = new SingleFlight<string, number>();
    await expect(flights.run('a', () => Promise.reject(new Error('down')))).rejects.toThrow('down');
    expect(flights.size).toBe(0);
    await expect(flights.run('a', async () => 1)).resolves.toBe(1);
  });

  it('turns a synchronous throw into a rejection', async () => {
    const flights = new SingleFlight<string, number>();
    await expect(
      flights.run('a', () => {
        throw new Error('sync');
      }),
    ).rejects.toThrow('sync');
    expect(flights.size).toBe(0);
  });

  it('does not cause an unhandledRejection when nobody awaits a failed operation', async () => {
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown) => unhandled.push(reason);
    process.on('unhandledRejection', onUnhandled);
    try {
      const flights = new SingleFlight<string, number>();
      void flights.run('a', () => Promise.reject(new Error('nobody listens')));
      for (let i = 0; i < 5; i += 1) await new Promise<void>((resolve) => setImmediate(resolve));
      expect(unhandled).toEqual([]);
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
  });
});
