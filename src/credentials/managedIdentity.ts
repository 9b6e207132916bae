import type { GetTokenOptions, TokenCredential } from '@azure/identity';
import type { BrokerConfig } from '../contract/config';
import { azureSdk } from '../platform/lazyAzureSdk';

/**
 * The broker's managed identity: user-assigned when `config.managedIdentityClientId` (AZURE_CLIENT_ID)
 * is set, otherwise system-assigned. The SDK finds the endpoint itself (App Service:
 * IDENTITY_ENDPOINT / IDENTITY_HEADER), which is how the emulator stands in for Azure. The SDK
 * credential is built on the first `getToken` (the first Key Vault read or federated assertion), so
 * that creating the broker does not load the Azure SDK (see azureSdk.ts).
 *
 * @param options.tlsCaPem extra CA to trust (the emulator's); production passes nothing.
 * @throws Error from the SDK, on first use, only for contradictory identity options (not reachable
 * with a parsed config).
 */
export function createManagedIdentityCredential(options: { config: BrokerConfig; tlsCaPem?: string }): TokenCredential {
  const common = {
    // One quick retry for a blip; callers bound the whole read with their own deadline.
    retryOptions: { maxRetries: 1 },
    ...(options.tlsCaPem ? { tlsOptions: { ca: options.tlsCaPem } } : {}),
  };
  const clientId = options.config.managedIdentityClientId;
  let credential: TokenCredential | undefined;
  return {
    getToken: async (scopes: string | string[], getTokenOptions?: GetTokenOptions) => {
      const { ManagedIdentityCredential } = azureSdk();
      credential ??=
        clientId === undefined
          ? new ManagedIdentityCredential(common)
          : new ManagedIdentityCredential({ ...common, clientId });
      return credential.getToken(scopes, getTokenOptions);
    },
  };
}
