import type { IncomingMessage, ServerResponse } from 'node:http';
import { randomBytes, randomUUID } from 'node:crypto';
import { KEY_VAULT_RESOURCE, TOKEN_EXCHANGE_RESOURCE } from './directory';
import { v1Issuer, v2Issuer } from './entra';
import type { FaultInjector } from './faults';
import { sendJson } from './http';
import type { SigningKeys } from './signingKeys';

export const MANAGED_IDENTITY_PATH = '/msi/token';
/** App Service hands out managed identity tokens that last about a day. */
export const MANAGED_IDENTITY_TOKEN_SECONDS = 86_399;

export interface ManagedIdentity {
  clientId: string;
  principalId: string;
  resourceId: string;
}

export interface ManagedIdentityOptions {
  tenantId: string;
  identity: ManagedIdentity;
  identityHeader: string;
  keys: SigningKeys;
  faults: FaultInjector;
  onRequest(): void;
}

/** Resources the emulated identity can get tokens for (what the broker needs). */
const RESOURCES = new Set([KEY_VAULT_RESOURCE, TOKEN_EXCHANGE_RESOURCE]);

/** App Service's managed identity endpoint (IDENTITY_ENDPOINT / IDENTITY_HEADER, api-version 2019-08-01). */
export class ManagedIdentityEndpoint {
  constructor(private readonly options: ManagedIdentityOptions) {}

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
    const { identity } = this.options;
    const clientId = url.searchParams.get('client_id');
    const principalId = url.searchParams.get('principal_id') ?? url.searchParams.get('object_id');
    const miResId = url.searchParams.get('mi_res_id');
    if (
      (clientId && clientId.toLowerCase() !== identity.clientId) ||
      (principalId && principalId.toLowerCase() !== identity.principalId) ||
      (miResId && miResId.toLowerCase() !== identity.resourceId.toLowerCase())
    ) {
      return fail(400, 'No Managed Identity found for specified ClientId/ResourceId/PrincipalId.');
    }
    const normalized = resource.replace(/\/+$/, '');
    if (!RESOURCES.has(normalized)) {
      return fail(
        400,
        `AADSTS500011: The resource principal named ${resource} was not found in the tenant named ${this.options.tenantId}.`,
      );
    }
    const expiresOn = this.options.keys.nowSeconds() + MANAGED_IDENTITY_TOKEN_SECONDS;
    const accessToken = await this.issue(normalized, resource);
    sendJson(res, 200, {
      access_token: accessToken,
      expires_on: String(expiresOn),
      resource,
      token_type: 'Bearer',
      client_id: identity.clientId,
    });
  }

  /** A token for the identity: v1 for Key Vault (as App Service issues), v2 for the token exchange audience. */
  async issue(normalizedResource: string, requestedResource: string = normalizedResource): Promise<string> {
    const { identity, tenantId, keys } = this.options;
    const iat = keys.nowSeconds();
    const exchange = normalizedResource === TOKEN_EXCHANGE_RESOURCE;
    const claims: Record<string, unknown> = {
      aud: requestedResource,
      iss: exchange ? v2Issuer(tenantId) : v1Issuer(tenantId),
      iat,
      nbf: iat,
      exp: iat + MANAGED_IDENTITY_TOKEN_SECONDS,
      aio: randomBytes(24).toString('base64'),
      idp: v1Issuer(tenantId),
      idtyp: 'app',
      oid: identity.principalId,
      sub: identity.principalId,
      tid: tenantId,
      uti: randomBytes(16).toString('base64url'),
      xms_mirid: identity.resourceId,
      ver: exchange ? '2.0' : '1.0',
    };
    if (exchange) Object.assign(claims, { azp: identity.clientId, azpacr: '2' });
    else Object.assign(claims, { appid: identity.clientId, appidacr: '2' });
    return keys.sign(claims);
  }
}
