import type { TokenCredential } from '@azure/identity';
import { keyVaultScope } from '../contract/clouds';
import type { BrokerConfig } from '../contract/config';
import type { Logger } from '../platform/logger';
import type { TokenClient } from '../tokens/tokenClient';
import type { TokenProvider } from '../tokens/tokenProvider';

export interface StartupPrefetchOptions {
  readonly config: BrokerConfig;
  /** The managed identity, shared with the Key Vault client (see sharedTokenRequests.ts). */
  readonly managedIdentity: TokenCredential;
  readonly warmUpCallerKeys: () => Promise<boolean>;
  /** The token client, whose Entra metadata read needs neither the credential nor the managed identity. */
  readonly tokenClient: Pick<TokenClient, 'warmUp'>;
  readonly tokens: Pick<TokenProvider, 'getToken'>;
  readonly logger: Logger;
  readonly now?: () => number;
}

/**
 * Starts, all at once, what the first caller on a fresh instance would otherwise wait for one after
 * another: the tenant's signing keys (caller authentication), the managed identity's token (for
 * Key Vault, or the federated assertion), Entra's OpenID metadata (which MSAL would otherwise read
 * after the credential, just before the first token), and a token for every configured scope
 * (which reads the credential from Key Vault and loads the Azure SDK). The first caller joins these
 * requests in flight. The key fetch goes first because it needs jose only; the managed identity
 * request goes out before the Key Vault client has read the vault's challenge, so the two overlap.
 *
 * Failures are handled as a caller's would be (the engine logs, alerts and remembers them); this
 * never throws, and it logs one `StartupPrefetch` line with what it got and how long it took.
 */
export function createStartupPrefetch(options: StartupPrefetchOptions): () => Promise<void> {
  const log = options.logger.child('Startup');
  const now = options.now ?? Date.now;
  return async () => {
    const startedMs = now();
    const keys = options.warmUpCallerKeys();
    const identityScope =
      options.config.credentialKind === 'federated'
        ? `${options.config.tokenExchangeAudience}/.default`
        : keyVaultScope(options.config.keyVaultUrl);
    const identity = (async () => options.managedIdentity.getToken(identityScope))();
    const metadata = options.tokenClient.warmUp();
    const tokens = options.config.tokenScopes.map((scope) => options.tokens.getToken(scope));
    const [keysResult, identityResult, metadataResult, ...tokenResults] = await Promise.allSettled([
      keys,
      identity,
      metadata,
      ...tokens,
    ]);
    log.info('StartupPrefetch', {
      callerKeys: keysResult.status === 'fulfilled' && keysResult.value,
      managedIdentity: identityResult.status === 'fulfilled',
      entraMetadata: metadataResult.status === 'fulfilled' && metadataResult.value,
      tokens: tokenResults.filter((result) => result.status === 'fulfilled').length,
      tokensFailed: tokenResults.filter((result) => result.status === 'rejected').length,
      durationMs: now() - startedMs,
    });
  };
}
