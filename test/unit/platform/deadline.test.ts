import { withDeadline } from '../../../src/platform/deadline';
import { BrokerError } from '../../../src/contract/errors';

describe('withDeadline', () => {
  beforeEach(() => jest.useFakeTimers());
  afterEach(() => jest.useRealTimers());

  it('resolves with the value when work finishes first', async () => {
    const result = withDeadline(Promise.resolve(42), 1000, 'entra_timeout', 'test');
    await expect(result).resolves.toBe(42);
    expect(jest.getTimerCount()).toBe(0);
  });

  it('passes the rejection of work through unchanged and clears its timer', async () => {
    const failure = new BrokerError('entra_transient', 'boom');
    await expect(withDeadline(Promise.reject(failure), 1000, 'entra_timeout', 'test')).rejects.toBe(failure);
    expect(jest.getTimerCount()).toBe(0);
  });

  it('rejects with the given code when work never settles (the SDK ignores abort signals)', async () => {
    const never = new Promise<string>(() => undefined);
    const result = withDeadline(never, 5000, 'entra_timeout', 'The Entra token request');
    const settled = jest.fn();
    result.then(settled, settled);
    await jest.advanceTimersByTimeAsync(4999);
    expect(settled).not.toHaveBeenCalled();
    await jest.advanceTimersByTimeAsync(1);
    await expect(result).rejects.toMatchObject({ name: 'BrokerError', code: 'entra_timeout' });
  });

  it('uses keyvault_timeout for Key Vault reads', async () => {
    const result = withDeadline(new Promise(() => undefined), 10, 'keyvault_timeout', 'Reading the secret');
    jest.advanceTimersByTime(10);
    await expect(result).rejects.toMatchObject({ code: 'keyvault_timeout' });
  });

  it('swallows the late rejection of abandoned work (no unhandledRejection)', async () => {
    const unhandled = jest.fn();
    process.on('unhandledRejection', unhandled);
    try {
      let rejectLate!: (error: Error) => void;
      const late = new Promise<never>((_, reject) => (rejectLate = reject));
      const result = withDeadline(late, 10, 'entra_timeout', 'test');
      jest.advanceTimersByTime(10);
      await expect(result).rejects.toMatchObject({ code: 'entra_timeout' });
      rejectLate(new Error('too late'));
      jest.useRealTimers();
      await new Promise((resolve) => setImmediate(resolve));
      expect(unhandled).not.toHaveBeenCalled();
    } finally {
      process.off('unhandledRejection', unhandled);
    }
  });

  it('ignores a late success after the deadline fired', async () => {
    let resolveLate!: (value: number) => void;
    const late = new Promise<number>((resolve) => (resolveLate = resolve));
    const result = withDeadline(late, 10, 'entra_timeout', 'test');
    jest.advanceTimersByTime(10);
    resolveLate(1);
    await expect(result).rejects.toMatchObject({ code: 'entra_timeout' });
  });

  it.each([0, -1, Number.NaN, Number.POSITIVE_INFINITY])(
    'refuses a nonsensical deadline %p as a bug',
    async (timeoutMs) => {
      await expect(withDeadline(Promise.resolve(1), timeoutMs, 'entra_timeout', 'test')).rejects.toMatchObject({
        code: 'internal',
      });
    },
  );

  it('the timeout message names what timed out but nothing upstream', async () => {
    const result = withDeadline(new Promise(() => undefined), 250, 'entra_timeout', 'The Entra token request');
    jest.advanceTimersByTime(250);
    await expect(result).rejects.toThrow('The Entra token request did not complete within 250 ms.');
  });
});
