import { randomUUID } from 'node:crypto';
import type { KeyObject } from 'node:crypto';

/** Key Vault's first-party app ID (the `aud` of v2 tokens for https://vault.azure.net). */
export const KEY_VAULT_APP_ID = 'cfa8b339-82a2-471a-a3c9-0fc0be7a4093';
export const KEY_VAULT_RESOURCE = 'https://vault.azure.net';
/** The first-party app behind api://AzureADTokenExchange (workload identity federation). */
export const TOKEN_EXCHANGE_APP_ID = 'fb60f99c-7a34-4190-8149-302f77469936';
export const TOKEN_EXCHANGE_RESOURCE = 'api://AzureADTokenExchange';
/**
 * The token-exchange audiences of the public cloud, US Government and China (one app each in
 * Azure; one stand-in app here). Azure fidelity: "sovereign clouds" (docs/azure-fidelity.md).
 */
export const TOKEN_EXCHANGE_RESOURCES = [
  TOKEN_EXCHANGE_RESOURCE,
  'api://AzureADTokenExchangeUSGov',
  'api://AzureADTokenExchangeChina',
] as const;
export const BROKER_API_URI = 'api://entra-token-broker';
export const BROKER_ROLE = 'Token.Request';
export const THIRD_PARTY_ROLE = 'Data.Read';

/** A client secret on an app registration; `keyId` is the Key Vault version that holds it. */
export interface PasswordCredential {
  keyId: string;
  value: string;
  endMs: number | undefined;
  revoked: boolean;
  /** Set by `expireCredentialInEntra`: Entra treats it as expired whatever its end date. */
  forcedExpired: boolean;
  /**
   * Before this time Entra does not know the credential yet (it was just added to the app).
   * Azure fidelity: "new credentials take seconds to work" (docs/azure-fidelity.md).
   */
  activeFromMs?: number;
}

/** A certificate on an app registration (`keyCredentials`); `keyId` is the Key Vault version. */
export interface KeyCredential {
  keyId: string;
  sha1: Buffer;
  sha256: Buffer;
  publicKey: KeyObject;
  startMs: number;
  endMs: number;
  revoked: boolean;
  forcedExpired: boolean;
  /** As on PasswordCredential. */
  activeFromMs?: number;
}

export interface FederatedIdentityCredential {
  name: string;
  issuer: string;
  subject: string;
  audiences: string[];
}

export interface AppRegistration {
  displayName: string;
  clientId: string;
  /** Object ID of the service principal (the `oid`/`sub` of its app-only tokens). */
  objectId: string;
  identifierUris: string[];
  appRoles: string[];
  /**
   * `accessTokenAcceptedVersion` of a resource app: 2 → v2 tokens whose `aud` is the client ID
   * GUID; 1 (Entra's default when the manifest leaves it null) → v1 tokens, `aud` as requested.
   * Azure fidelity: "v1 access tokens" (docs/azure-fidelity.md).
   */
  accessTokenVersion: 1 | 2;
  /**
   * Optional claims the resource app asks for in its access tokens (`idtyp` here). Entra sends
   * `idtyp` only when asked. Azure fidelity: "idtyp is optional" (docs/azure-fidelity.md).
   */
  optionalAccessTokenClaims: string[];
  /**
   * "Assignment required" on the resource's service principal: clients without an app role
   * assignment get no token (AADSTS501051). Azure fidelity: "app role assignment required".
   */
  appRoleAssignmentRequired: boolean;
  passwords: PasswordCredential[];
  keyCredentials: KeyCredential[];
  federatedCredentials: FederatedIdentityCredential[];
  /** Resource app client ID → app roles granted to this app (admin-consented application permissions). */
  grantedRoles: Map<string, string[]>;
}

export function newApp(displayName: string, extra: Partial<AppRegistration> = {}): AppRegistration {
  return {
    displayName,
    clientId: randomUUID(),
    objectId: randomUUID(),
    identifierUris: [],
    appRoles: [],
    accessTokenVersion: 1,
    optionalAccessTokenClaims: [],
    appRoleAssignmentRequired: false,
    passwords: [],
    keyCredentials: [],
    federatedCredentials: [],
    grantedRoles: new Map(),
    ...extra,
  };
}

/** Whether Entra already knows a credential (it takes seconds after it is added to the app). */
export function isActive(credential: { activeFromMs?: number }, nowMs: number): boolean {
  return credential.activeFromMs === undefined || credential.activeFromMs <= nowMs;
}

/** The emulated tenant's app registrations and service principals. */
export class Directory {
  readonly apps = new Map<string, AppRegistration>();

  constructor(readonly tenantId: string) {
    this.add(
      newApp('Azure Key Vault', {
        clientId: KEY_VAULT_APP_ID,
        identifierUris: [KEY_VAULT_RESOURCE],
        accessTokenVersion: 1,
      }),
    );
    this.add(
      newApp('AAD Token Exchange', {
        clientId: TOKEN_EXCHANGE_APP_ID,
        identifierUris: [...TOKEN_EXCHANGE_RESOURCES],
        accessTokenVersion: 2,
      }),
    );
  }

  add(app: AppRegistration): AppRegistration {
    this.apps.set(app.clientId.toLowerCase(), app);
    return app;
  }

  byClientId(clientId: string): AppRegistration | undefined {
    return this.apps.get(clientId.toLowerCase());
  }

  /** The resource app a `{resource}/.default` scope names, by identifier URI or client ID. */
  resource(resourceId: string): AppRegistration | undefined {
    const wanted = resourceId.toLowerCase().replace(/\/+$/, '');
    const byId = this.byClientId(wanted);
    if (byId) return byId;
    for (const app of this.apps.values()) {
      if (app.identifierUris.some((uri) => uri.toLowerCase().replace(/\/+$/, '') === wanted)) return app;
    }
    return undefined;
  }
}
