import type { AccessToken, GetTokenOptions, TokenCredential } from '@azure/identity';
import { SingleFlight } from '../platform/singleFlight';

/**
 * A credential whose concurrent requests for the same token share one upstream call. The start-up
 * prefetch asks the managed identity for Key Vault's token while the Key Vault client is still
 * reading the vault's challenge; when the client then asks for the same token, it joins the request
 * in flight instead of sending a second one (the SDK's own cache only helps once a token has arrived).
 * A request with `claims` (a claims challenge) always goes out on its own.
 */
export function shareConcurrentTokenRequests(credential: TokenCredential): TokenCredential {
  const flights = new SingleFlight<string, AccessToken | null>();
  return {
    getToken(scopes: string | string[], options?: GetTokenOptions): Promise<AccessToken | null> {
      if (options?.claims) return credential.getToken(scopes, options);
      const key = (Array.isArray(scopes) ? scopes : [scopes]).join(' ');
      return flights.run(key, () => credential.getToken(scopes, options));
    },
  };
}
