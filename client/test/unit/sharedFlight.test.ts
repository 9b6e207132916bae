import { SharedFlight } from '../../src/sharedFlight';

describe('SharedFlight', () => {
  it('runs one operation for everyone who asks while it runs, and a new one afterwards', async () => {
    const flight = new SharedFlight<number>();
    let runs = 0;
    const operation = async (): Promise<number> => {
      runs += 1;
      await new Promise((resolve) => setTimeout(resolve, 5));
      return runs;
    };
    expect(await Promise.all([flight.run(operation), flight.run(operation), flight.run(operation)])).toEqual([1, 1, 1]);
    expect(flight.running).toBe(false);
    expect(await flight.run(operation)).toBe(2);
  });

  it('aborts the operation only when the last waiter gives up', async () => {
    const flight = new SharedFlight<string>();
    let seen: AbortSignal | undefined;
    const operation = (signal: AbortSignal): Promise<string> =>
      new Promise((resolve, reject) => {
        seen = signal;
        signal.addEventListener('abort', () => reject(new Error('aborted')));
        setTimeout(() => resolve('done'), 50);
      });
    const first = new AbortController();
    const second = new AbortController();
    const a = flight.run(operation, first.signal);
    const b = flight.run(operation, second.signal);
    first.abort();
    await expect(a).rejects.toMatchObject({ name: 'AbortError' });
    expect(seen?.aborted).toBe(false);
    second.abort();
    await expect(b).rejects.toMatchObject({ name: 'AbortError' });
    expect(seen?.aborted).toBe(true);
    // The abandoned flight is not joined: the next caller starts afresh.
    expect(flight.running).toBe(false);
  });
});
