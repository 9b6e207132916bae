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
  /** Resolves on a later turn of the event loop (default: after the next poll, `setImmediate`). */
  readonly nextTurn?: () => Promise<void>;
}

const afterPoll = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/**
 * Starts what the first caller on a fresh instance would otherwise wait for one after another: the
 * managed identity's token (for Key Vault, or the federated assertion), a token for every
 * configured scope (which reads the credential from Key Vault), the tenant's signing keys (caller
 * authentication) and Entra's OpenID metadata (which MSAL would otherwise read after the
 * credential, just before the first token). The first caller joins these requests in flight.
 *
 * In two steps, because the JavaScript thread is shared and the first step is the longest wait:
 * 1. the managed identity token and the tokens. The first loads the Azure SDK (tens of ms of CPU)
 *    and sends the managed identity request; the tokens send the Key Vault client's challenge
 *    request, so the two overlap. This is the head of the chain every first token waits for:
 *    managed identity → Key Vault → Entra.
 * 2. on a later turn of the event loop, once those requests are on the wire: the keys and the
 *    metadata. Neither is on that chain, and both load Node.js's built-in fetch (undici, some 20 ms
 *    of CPU on first use), which now runs while the managed identity answers instead of before it
 *    is asked (docs/design.md, "Cold start and lazy loading").
 *
 * Failures are handled as a caller's would be (the engine logs, alerts and remembers them); this
 * never throws, and it logs one `StartupPrefetch` line with what it got and how long it took.
 */
export function createStartupPrefetch(options: StartupPrefetchOptions): () => Promise<void> {
  const log = options.logger.child('Startup');
  const now = options.now ?? Date.now;
  const nextTurn = options.nextTurn ?? afterPoll;
  return async () => {
    const startedMs = now();
    const identityScope =
      options.config.credentialKind === 'federated'
        ? `${options.config.tokenExchangeAudience}/.default`
        : keyVaultScope(options.config.keyVaultUrl);
    // Settled as they start: one that fails during the turn below must not be an unhandled
    // rejection, which would stop the process.
    const chain = Promise.allSettled([
      (async () => options.managedIdentity.getToken(identityScope))(),
      ...options.config.tokenScopes.map((scope) => options.tokens.getToken(scope)),
    ]);
    await nextTurn();
    const besides = Promise.allSettled([options.warmUpCallerKeys(), options.tokenClient.warmUp()]);
    const [[identityResult, ...tokenResults], [keysResult, metadataResult]] = await Promise.all([chain, besides]);
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
