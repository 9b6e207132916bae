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

/** Why the managed identity gave no token, read from the error's structured fields. */
export interface ManagedIdentityFailure {
  /**
   * The endpoint answered and refused (a 4xx other than 408/429: the identity is not assigned to
   * the app, or AZURE_CLIENT_ID names another one). Retrying cannot help; configuration must change.
   */
  readonly refused: boolean;
  /** HTTP status of the endpoint's answer; undefined when none arrived (network, timeout). */
  readonly status: number | undefined;
}

/**
 * Tells a managed identity endpoint that refused apart from one that could not be reached.
 *
 * `ManagedIdentityCredential` wraps every failure in a `CredentialUnavailableError` whose message
 * is all that differs; the structured answer is its `cause`: msal-node's `ServerError` with the
 * endpoint's HTTP `status` when an answer came back, or a `ClientAuthError` with
 * `errorCode: 'network_error'` when none did. Returns undefined for errors that are not from a
 * managed identity credential at all.
 */
export function describeManagedIdentityFailure(error: unknown): ManagedIdentityFailure | undefined {
  const name = (error as { name?: unknown } | null)?.name;
  if (name !== 'CredentialUnavailableError' && name !== 'AuthenticationError' && name !== 'AuthenticationRequiredError')
    return undefined;
  let status: number | undefined;
  // The cause chain is at most two deep today (identity → MSAL); the bound only guards against a loop.
  let current: unknown = error;
  for (let depth = 0; depth < 4 && current !== null && typeof current === 'object'; depth += 1) {
    const fields = current as { status?: unknown; statusCode?: unknown; cause?: unknown };
    const found = typeof fields.status === 'number' ? fields.status : fields.statusCode;
    if (typeof found === 'number' && Number.isInteger(found)) {
      status = found;
      break;
    }
    current = fields.cause;
  }
  const refused = status !== undefined && status >= 400 && status < 500 && status !== 408 && status !== 429;
  return { refused, status };
}

/** The message every `managed_identity_unavailable` error carries: the setting to check. */
export function managedIdentityRefusedMessage(what: string, status: number | undefined): string {
  return (
    `${what}: the managed identity endpoint refused to issue a token` +
    `${status === undefined ? '' : ` (HTTP ${status})`}; check that the identity is assigned to the app ` +
    `and that AZURE_CLIENT_ID names it.`
  );
}
