import type { IncomingMessage, ServerResponse } from 'node:http';
import { randomBytes, randomUUID } from 'node:crypto';
import type { AppRegistration, Directory } from './directory';
import { v1Issuer, v2Issuer } from './entra';
import type { FaultInjector } from './faults';
import { sendJson } from './http';
import type { SigningKeys } from './signingKeys';

export const MANAGED_IDENTITY_PATH = '/msi/token';
/** App Service hands out managed identity tokens that last about a day. */
export const MANAGED_IDENTITY_TOKEN_SECONDS = 86_399;

export interface ManagedIdentity {
  name: string;
  clientId: string;
  principalId: string;
  resourceId: string;
}

export interface ManagedIdentityOptions {
  tenantId: string;
  directory: Directory;
  /** The identities assigned to the app; the first is the one used when the request names none. */
  identities: ManagedIdentity[];
  identityHeader: string;
  keys: SigningKeys;
  faults: FaultInjector;
  onRequest(): void;
}

/** App Service's answer when the requested identity is not assigned to the app (or does not exist). */
export const IDENTITY_NOT_FOUND = 'No Managed Identity found for specified ClientId/ResourceId/PrincipalId.';

/**
 * App Service's managed identity endpoint (IDENTITY_ENDPOINT / IDENTITY_HEADER, api-version
 * 2019-08-01). Azure fidelity: "managed identity endpoint refusals" (docs/azure-fidelity.md):
 * errors are `{statusCode, message, correlationId}`; an identity that is not assigned answers 400.
 */
export class ManagedIdentityEndpoint {
  /** Client IDs of identities removed from the app by the `unassign` drill. */
  private readonly unassigned = new Set<string>();

  constructor(private readonly options: ManagedIdentityOptions) {}

  /** Drill: the identity is (no longer) assigned to the app; requests for it answer 400. */
  setAssigned(clientId: string, assigned: boolean): void {
    const identity = this.options.identities.find((candidate) => candidate.clientId === clientId.toLowerCase());
    if (!identity) throw new Error(`No managed identity with client ID ${clientId}.`);
    if (assigned) this.unassigned.delete(identity.clientId);
    else this.unassigned.add(identity.clientId);
  }

  async handle(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    this.options.onRequest();
    if (this.options.faults.apply('msi', res)) return;
    const correlationId = randomUUID();
    const fail = (status: number, message: string): void =>
      sendJson(res, status, { statusCode: status, message, correlationId });
    if (req.method !== 'GET') return fail(405, 'The requested resource does not support http method.');
    if (req.headers['x-identity-header'] !== this.options.identityHeader) {
      return fail(401, 'The X-IDENTITY-HEADER header is missing or does not match IDENTITY_HEADER.');
    }
    if (url.searchParams.get('api-version') !== '2019-08-01') {
      return fail(400, 'The api-version parameter is missing or not supported; use 2019-08-01.');
    }
    const resource = (url.searchParams.get('resource') ?? '').replace(/\/\.default$/, '');
    if (!resource) return fail(400, 'The resource parameter is required.');
    const identity = this.selectIdentity(url.searchParams);
    if (!identity) return fail(400, IDENTITY_NOT_FOUND);
    const resourceApp = this.options.directory.resource(resource);
    if (!resourceApp) {
      return fail(
        400,
        `AADSTS500011: The resource principal named ${resource} was not found in the tenant named ${this.options.tenantId}.`,
      );
    }
    const roles = this.options.directory.byClientId(identity.clientId)?.grantedRoles.get(resourceApp.clientId) ?? [];
    if (resourceApp.appRoleAssignmentRequired && roles.length === 0) {
      // Azure fidelity: "app role assignment required" (docs/azure-fidelity.md).
      return fail(
        400,
        `AADSTS501051: Application '${identity.clientId}'(${identity.name}) is not assigned to a role for the application '${resource}'(${resourceApp.displayName}).`,
      );
    }
    const expiresOn = this.options.keys.nowSeconds() + MANAGED_IDENTITY_TOKEN_SECONDS;
    const accessToken = await this.issue(identity, resourceApp, resource, roles);
    sendJson(res, 200, {
      access_token: accessToken,
      expires_on: String(expiresOn),
      resource,
      token_type: 'Bearer',
      client_id: identity.clientId,
    });
  }

  /** The identity a request names by client_id, principal_id/object_id or mi_res_id; default the first. */
  private selectIdentity(params: URLSearchParams): ManagedIdentity | undefined {
    const clientId = params.get('client_id')?.toLowerCase();
    const principalId = (params.get('principal_id') ?? params.get('object_id'))?.toLowerCase();
    const miResId = params.get('mi_res_id')?.toLowerCase();
    const found = this.options.identities.find(
      (identity) =>
        (!clientId || clientId === identity.clientId) &&
        (!principalId || principalId === identity.principalId) &&
        (!miResId || miResId === identity.resourceId.toLowerCase()),
    );
    return found && !this.unassigned.has(found.clientId) ? found : undefined;
  }

  /**
   * A token for the identity, shaped by the resource app's accepted version like any Entra token:
   * v1 for Key Vault and the broker API (`aud` as requested), v2 for the token-exchange app
   * (`aud` = its app ID GUID). Azure fidelity: "sovereign clouds" and "v1 access tokens".
   */
  async issue(
    identity: ManagedIdentity,
    resourceApp: AppRegistration,
    requestedResource: string,
    roles: readonly string[] = [],
  ): Promise<string> {
    const { tenantId, keys } = this.options;
    const iat = keys.nowSeconds();
    const v2 = resourceApp.accessTokenVersion === 2;
    const claims: Record<string, unknown> = {
      aud: v2 ? resourceApp.clientId : requestedResource,
      iss: v2 ? v2Issuer(tenantId) : v1Issuer(tenantId),
      iat,
      nbf: iat,
      exp: iat + MANAGED_IDENTITY_TOKEN_SECONDS,
      aio: randomBytes(24).toString('base64'),
      idp: v1Issuer(tenantId),
      oid: identity.principalId,
      sub: identity.principalId,
      tid: tenantId,
      uti: randomBytes(16).toString('base64url'),
      xms_mirid: identity.resourceId,
      ver: v2 ? '2.0' : '1.0',
    };
    if (resourceApp.optionalAccessTokenClaims.includes('idtyp')) claims.idtyp = 'app';
    if (roles.length > 0) claims.roles = [...roles];
    if (v2) Object.assign(claims, { azp: identity.clientId, azpacr: '2' });
    else Object.assign(claims, { appid: identity.clientId, appidacr: '2' });
    return keys.sign(claims);
  }
}
