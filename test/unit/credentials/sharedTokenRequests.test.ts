import type { AccessToken, GetTokenOptions } from '@azure/identity';
import { shareConcurrentTokenRequests } from '../../../src/credentials/sharedTokenRequests';

function deferredCredential(): {
  calls: { scopes: string | string[]; options?: GetTokenOptions }[];
  resolveAll(token: string): void;
  getToken(scopes: string | string[], options?: GetTokenOptions): Promise<AccessToken | null>;
} {
  const calls: { scopes: string | string[]; options?: GetTokenOptions }[] = [];
  const pending: ((token: AccessToken) => void)[] = [];
  return {
    calls,
    resolveAll(token) {
      for (const resolve of pending.splice(0)) resolve({ token, expiresOnTimestamp: Date.now() + 3_600_000 });
    },
    getToken(scopes, options) {
      calls.push({ scopes, options });
      return new Promise((resolve) => pending.push(resolve));
    },
  };
}

describe('shareConcurrentTokenRequests', () => {
  it('sends one request for the same scope asked twice while the first is in flight', async () => {
    const inner = deferredCredential();
    const shared = shareConcurrentTokenRequests(inner);
    const first = shared.getToken('https://vault.azure.net/.default');
    const second = shared.getToken(['https://vault.azure.net/.default'], { tenantId: 'tid' });
    expect(inner.calls).toHaveLength(1);
    inner.resolveAll('t1');
    await expect(first).resolves.toMatchObject({ token: 't1' });
    await expect(second).resolves.toMatchObject({ token: 't1' });
  });

  it('asks again once the request settled, keeps scopes apart, and never shares a claims challenge', async () => {
    const inner = deferredCredential();
    const shared = shareConcurrentTokenRequests(inner);
    const vault = shared.getToken('https://vault.azure.net/.default');
    const exchange = shared.getToken('api://AzureADTokenExchange/.default');
    const challenged = shared.getToken('https://vault.azure.net/.default', { claims: '{"access_token":{}}' });
    expect(inner.calls).toHaveLength(3);
    inner.resolveAll('t1');
    await Promise.all([vault, exchange, challenged]);
    const again = shared.getToken('https://vault.azure.net/.default');
    expect(inner.calls).toHaveLength(4);
    inner.resolveAll('t2');
    await expect(again).resolves.toMatchObject({ token: 't2' });
  });

  it('does not remember a failure: the next request goes out', async () => {
    let calls = 0;
    const shared = shareConcurrentTokenRequests({
      getToken: () => {
        calls += 1;
        return calls === 1
          ? Promise.reject(new Error('MSI down'))
          : Promise.resolve({ token: 'ok', expiresOnTimestamp: 1 });
      },
    });
    await expect(shared.getToken('s')).rejects.toThrow('MSI down');
    await expect(shared.getToken('s')).resolves.toMatchObject({ token: 'ok' });
  });
});
