import { BrokerRequestError, type BrokerRequestErrorCode } from '../../src';
import { DEFAULT_RETRY_OPTIONS, retryDelayMs, sleep } from '../../src/retryPolicy';

const failure = (code: BrokerRequestErrorCode, retryAfterSeconds?: number): BrokerRequestError =>
  new BrokerRequestError(code, 'test', { status: 503, retryAfterSeconds, scope: 'api://x/.default' });

describe('retryDelayMs', () => {
  it('waits at least the Retry-After, lengthened by at most 20 % of jitter', () => {
    expect(retryDelayMs(failure('unavailable', 5), 1, DEFAULT_RETRY_OPTIONS, () => 0)).toBe(5000);
    expect(retryDelayMs(failure('throttled', 5), 1, DEFAULT_RETRY_OPTIONS, () => 0.999999)).toBe(6000);
  });

  it('backs off exponentially with jitter when the broker names no delay', () => {
    const delays = [1, 2, 3].map((retry) =>
      retryDelayMs(failure('network_error'), retry, DEFAULT_RETRY_OPTIONS, () => 0),
    );
    expect(delays).toEqual([250, 500, 1000]);
    expect(retryDelayMs(failure('network_error'), 3, DEFAULT_RETRY_OPTIONS, () => 0.999999)).toBe(2000);
  });

  it.each<BrokerRequestErrorCode>([
    'bad_request',
    'caller_token_rejected',
    'forbidden',
    'server_error',
    'invalid_response',
    'caller_credential_failed',
  ])('never retries %s', (code) => {
    expect(retryDelayMs(failure(code, 1), 1, DEFAULT_RETRY_OPTIONS, () => 0)).toBeUndefined();
  });

  it('stops after maxRetries, and at a Retry-After longer than maxRetryDelayMs', () => {
    expect(retryDelayMs(failure('unavailable', 1), 4, DEFAULT_RETRY_OPTIONS, () => 0)).toBeUndefined();
    expect(retryDelayMs(failure('unavailable', 31), 1, DEFAULT_RETRY_OPTIONS, () => 0)).toBeUndefined();
    expect(retryDelayMs(failure('unavailable', 30), 1, DEFAULT_RETRY_OPTIONS, () => 0)).toBe(30_000);
  });
});

describe('sleep', () => {
  it('rejects with the abort reason as soon as the signal fires', async () => {
    const controller = new AbortController();
    const waiting = sleep(60_000, controller.signal);
    controller.abort();
    await expect(waiting).rejects.toMatchObject({ name: 'AbortError' });
    await expect(sleep(1, controller.signal)).rejects.toMatchObject({ name: 'AbortError' });
  });
});
