import type { IncomingMessage, ServerResponse } from 'node:http';
import { randomBytes, randomUUID } from 'node:crypto';
import { decodeJwt, decodeProtectedHeader, jwtVerify } from 'jose';
import { isActive, TOKEN_EXCHANGE_APP_ID, TOKEN_EXCHANGE_RESOURCES } from './directory';
import type { AppRegistration, Directory } from './directory';
import type { FaultInjector } from './faults';
import { parseForm, readBody, sendJson } from './http';
import type { SigningKeys } from './signingKeys';

/** Header with which the emulator's own callerToken() marks its requests (value: a per-run secret). */
export const INTERNAL_HEADER = 'x-emulator-internal';
export const JWT_BEARER = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';
/** Issuers as the real Entra writes them: tokens keep them so the broker's production issuer check runs unchanged. */
export const v2Issuer = (tenantId: string): string => `https://login.microsoftonline.com/${tenantId}/v2.0`;
export const v1Issuer = (tenantId: string): string => `https://sts.windows.net/${tenantId}/`;

export interface EntraOptions {
  url: string;
  directory: Directory;
  keys: SigningKeys;
  faults: FaultInjector;
  now: () => number;
  tokenLifetimeSeconds: number;
  refreshInSeconds?: number;
  /** Off by default: MSAL reuses one certificate assertion until it expires, and Entra accepts that. */
  rejectReplayedAssertions: boolean;
  /** Value of INTERNAL_HEADER on the emulator's own requests. */
  internalSecret: string;
  onTokenRequest(clientId: string, scope: string): void;
}

/** An Entra error answer: `error_description` starts with the AADSTS code, as MSAL and the broker expect. */
export class EntraError extends Error {
  constructor(
    readonly status: number,
    readonly error: string,
    readonly code: number,
    description: string,
  ) {
    super(`AADSTS${code}: ${description}`);
  }
}

function entraTimestamp(ms: number): string {
  return new Date(ms)
    .toISOString()
    .replace('T', ' ')
    .replace(/\.\d+Z$/, 'Z');
}

/** The emulated Entra authority: metadata, keys and the client-credentials token endpoint. */
export class EntraAuthority {
  private readonly usedJtis = new Map<string, number>();

  constructor(private readonly options: EntraOptions) {}

  get tenantId(): string {
    return this.options.directory.tenantId;
  }

  tokenEndpoint(): string {
    return `${this.options.url}/${this.tenantId}/oauth2/v2.0/token`;
  }

  jwksUri(): string {
    return `${this.options.url}/${this.tenantId}/discovery/v2.0/keys`;
  }

  /** Handles Entra paths; returns false when the path is not Entra's. */
  async handle(req: IncomingMessage, res: ServerResponse, path: string): Promise<boolean> {
    if (path === '/common/discovery/instance' || path === '/organizations/discovery/instance') {
      this.sendInstanceDiscovery(res);
      return true;
    }
    const match =
      /^\/([^/]+)\/(v2\.0\/\.well-known\/openid-configuration|\.well-known\/openid-configuration|discovery\/v2\.0\/keys|discovery\/keys|oauth2\/v2\.0\/token)$/.exec(
        path,
      );
    if (!match) return false;
    const tenant = decodeURIComponent(match[1]!);
    const what = match[2]!;
    if (what === 'oauth2/v2.0/token') {
      await this.handleToken(req, res, tenant);
      return true;
    }
    if (tenant.toLowerCase() !== this.tenantId) {
      this.sendError(req, res, new EntraError(400, 'invalid_tenant', 90002, this.tenantNotFound(tenant)));
      return true;
    }
    if (what.includes('openid-configuration')) {
      sendJson(res, 200, this.openIdConfiguration(what.startsWith('v2.0')));
    } else {
      if (this.options.faults.apply('jwks', res)) return true;
      sendJson(res, 200, this.options.keys.jwks(what.includes('v2.0')));
    }
    return true;
  }

  openIdConfiguration(v2: boolean): Record<string, unknown> {
    const base = `${this.options.url}/${this.tenantId}`;
    return {
      token_endpoint: `${base}/oauth2/v2.0/token`,
      token_endpoint_auth_methods_supported: ['client_secret_post', 'private_key_jwt', 'client_secret_basic'],
      jwks_uri: `${base}/discovery/v2.0/keys`,
      response_modes_supported: ['query', 'fragment', 'form_post'],
      subject_types_supported: ['pairwise'],
      id_token_signing_alg_values_supported: ['RS256'],
      response_types_supported: ['code', 'id_token', 'code id_token', 'id_token token'],
      scopes_supported: ['openid', 'profile', 'email', 'offline_access'],
      // The real Entra issuer (MSAL accepts it: login.microsoftonline.com is a known Microsoft host).
      issuer: v2 ? v2Issuer(this.tenantId) : v1Issuer(this.tenantId),
      request_uri_parameter_supported: false,
      userinfo_endpoint: `${this.options.url}/oidc/userinfo`,
      authorization_endpoint: `${base}/oauth2/v2.0/authorize`,
      device_authorization_endpoint: `${base}/oauth2/v2.0/devicecode`,
      http_logout_supported: true,
      frontchannel_logout_supported: true,
      end_session_endpoint: `${base}/oauth2/v2.0/logout`,
      claims_supported: ['sub', 'iss', 'aud', 'exp', 'iat', 'auth_time', 'acr', 'nonce', 'tid', 'ver', 'oid'],
      kerberos_endpoint: `${base}/kerberos`,
      tenant_region_scope: 'EU',
      cloud_instance_name: 'microsoftonline.com',
      cloud_graph_host_name: 'graph.windows.net',
      msgraph_host: 'graph.microsoft.com',
      rbac_url: 'https://pas.windows.net',
    };
  }

  private sendInstanceDiscovery(res: ServerResponse): void {
    const host = new URL(this.options.url).host;
    sendJson(res, 200, {
      tenant_discovery_endpoint: `${this.options.url}/{tenant}/v2.0/.well-known/openid-configuration`,
      'api-version': '1.1',
      metadata: [{ preferred_network: host, preferred_cache: host, aliases: [host] }],
    });
  }

  private tenantNotFound(tenant: string): string {
    return `Tenant '${tenant}' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud. Check with your subscription administrator, this may happen if there are no active subscriptions for the tenant.`;
  }

  private async handleToken(req: IncomingMessage, res: ServerResponse, tenant: string): Promise<void> {
    const body = req.method === 'POST' ? await readBody(req) : undefined;
    const form = parseForm(body ?? '');
    const one = (name: string): string | undefined => form.get(name)?.[0];
    this.options.onTokenRequest(one('client_id') ?? '', one('scope') ?? '');
    // The emulator's own callerToken() helper is never faulted: a fault set for the broker must not
    // be used up by a test fetching its caller token.
    const internal = req.headers[INTERNAL_HEADER] === this.options.internalSecret;
    if (!internal && this.options.faults.apply('token', res, one('client_id'))) return;
    try {
      if (req.method !== 'POST') {
        throw new EntraError(
          400,
          'invalid_request',
          900561,
          'The endpoint only accepts POST requests. Received a GET request.',
        );
      }
      if (tenant.toLowerCase() !== this.tenantId)
        throw new EntraError(400, 'invalid_request', 90002, this.tenantNotFound(tenant));
      const answer = await this.clientCredentials(one);
      sendJson(res, 200, answer);
    } catch (error) {
      if (!(error instanceof EntraError)) throw error;
      this.sendError(req, res, error);
    }
  }

  private async clientCredentials(one: (name: string) => string | undefined): Promise<Record<string, unknown>> {
    const grantType = one('grant_type');
    if (!grantType) throw missingParameter('grant_type');
    if (grantType !== 'client_credentials') {
      throw new EntraError(
        400,
        'unsupported_grant_type',
        70003,
        `The app requested an unsupported grant type '${grantType}'.`,
      );
    }
    const clientId = one('client_id');
    if (!clientId) throw missingParameter('client_id');
    const scope = one('scope');
    if (scope === undefined || scope.trim() === '') throw missingParameter('scope');
    const client = this.options.directory.byClientId(clientId);
    if (!client) {
      throw new EntraError(
        400,
        'unauthorized_client',
        700016,
        `Application with identifier '${clientId}' was not found in the directory '${this.tenantId}'. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You may have sent your authentication request to the wrong tenant.`,
      );
    }
    const resourceId = this.resourceOfScope(scope);
    await this.authenticateClient(client, one);
    const resource = this.options.directory.resource(resourceId);
    if (!resource) {
      throw new EntraError(
        400,
        'invalid_resource',
        500011,
        `The resource principal named ${resourceId} was not found in the tenant named ${this.tenantId}. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You might have sent your authentication request to the wrong tenant.`,
      );
    }
    if (resource.appRoleAssignmentRequired && (client.grantedRoles.get(resource.clientId) ?? []).length === 0) {
      // Azure fidelity: "app role assignment required" (docs/azure-fidelity.md).
      throw new EntraError(
        400,
        'invalid_grant',
        501051,
        `Application '${client.clientId}'(${client.displayName}) is not assigned to a role for the application '${resourceId}'(${resource.displayName}).`,
      );
    }
    const lifetime = this.options.tokenLifetimeSeconds;
    const accessToken = await this.issueAppToken(client, resource, resourceId, lifetime);
    const refreshIn = this.options.refreshInSeconds;
    return {
      token_type: 'Bearer',
      expires_in: lifetime,
      ext_expires_in: lifetime,
      ...(refreshIn !== undefined ? { refresh_in: refreshIn } : {}),
      access_token: accessToken,
    };
  }

  private resourceOfScope(scope: string): string {
    const scopes = scope.trim().split(/\s+/);
    if (scopes.length !== 1) {
      throw new EntraError(
        400,
        'invalid_scope',
        70011,
        `The provided request must include a 'scope' input parameter. The provided value for the input parameter 'scope' is not valid. The scope ${scope} is not valid.`,
      );
    }
    const only = scopes[0]!;
    if (!only.endsWith('/.default') || only === '/.default') {
      throw new EntraError(
        400,
        'invalid_scope',
        1002012,
        `The provided value for scope ${only} is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI).`,
      );
    }
    return only.slice(0, -'/.default'.length);
  }

  /** Checks the client's secret or assertion the way Entra does. @throws EntraError */
  private async authenticateClient(client: AppRegistration, one: (name: string) => string | undefined): Promise<void> {
    const assertionType = one('client_assertion_type');
    const assertion = one('client_assertion');
    const secret = one('client_secret');
    if (assertionType !== undefined || assertion !== undefined) {
      if (assertionType !== JWT_BEARER) {
        throw new EntraError(
          400,
          'invalid_request',
          700023,
          `Invalid client_assertion_type value '${assertionType ?? ''}'. Expected '${JWT_BEARER}'.`,
        );
      }
      if (!assertion) throw missingParameter('client_assertion');
      await this.checkAssertion(client, assertion);
      return;
    }
    if (secret === undefined) {
      throw new EntraError(
        401,
        'invalid_client',
        7000218,
        "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.",
      );
    }
    // Azure fidelity: "new credentials take seconds to work": a secret Entra does not know yet is
    // refused like a wrong one.
    const password = client.passwords.find(
      (candidate) => candidate.value === secret && !candidate.revoked && isActive(candidate, this.options.now()),
    );
    if (!password) {
      throw new EntraError(
        401,
        'invalid_client',
        7000215,
        `Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '${client.clientId}'.`,
      );
    }
    if (password.forcedExpired || (password.endMs !== undefined && password.endMs <= this.options.now())) {
      throw new EntraError(
        401,
        'invalid_client',
        7000222,
        `The provided client secret keys for app '${client.clientId}' are expired. Visit the Azure portal to create new keys for your app: https://aka.ms/NewClientSecret, or consider using certificate credentials for added security: https://aka.ms/certCreds.`,
      );
    }
  }

  private async checkAssertion(client: AppRegistration, assertion: string): Promise<void> {
    let header: ReturnType<typeof decodeProtectedHeader>;
    let claims: ReturnType<typeof decodeJwt>;
    try {
      header = decodeProtectedHeader(assertion);
      claims = decodeJwt(assertion);
    } catch {
      throw new EntraError(400, 'invalid_request', 50027, 'JWT token is invalid or malformed.');
    }
    const thumbprintS256 = typeof header['x5t#S256'] === 'string' ? header['x5t#S256'] : undefined;
    const thumbprintSha1 = typeof header.x5t === 'string' ? header.x5t : undefined;
    // Entra-issued tokens (a managed identity's assertion) carry x5t too, so a thumbprint alone does
    // not make a certificate assertion: a token from a trusted federated issuer goes the federated way.
    const federatedIssuer = client.federatedCredentials.some((fic) => fic.issuer === claims.iss);
    const registeredThumbprint = client.keyCredentials.some(
      (key) => key.sha256.toString('base64url') === thumbprintS256 || key.sha1.toString('base64url') === thumbprintSha1,
    );
    const looksFederated =
      (thumbprintS256 === undefined && thumbprintSha1 === undefined) ||
      (!registeredThumbprint &&
        (federatedIssuer || client.keyCredentials.length === 0) &&
        client.federatedCredentials.length > 0);
    if (looksFederated) {
      await this.checkFederatedAssertion(client, assertion, claims);
    } else {
      await this.checkCertificateAssertion(client, assertion, claims, thumbprintS256, thumbprintSha1);
    }
    this.checkReplay(claims);
  }

  private async checkCertificateAssertion(
    client: AppRegistration,
    assertion: string,
    claims: ReturnType<typeof decodeJwt>,
    thumbprintS256: string | undefined,
    thumbprintSha1: string | undefined,
  ): Promise<void> {
    const shown = thumbprintS256 ?? thumbprintSha1 ?? '';
    const hexShown = Buffer.from(shown, 'base64url').toString('hex').toUpperCase();
    const key = client.keyCredentials.find(
      (candidate) =>
        !candidate.revoked &&
        isActive(candidate, this.options.now()) &&
        (thumbprintS256 !== undefined
          ? candidate.sha256.toString('base64url') === thumbprintS256
          : candidate.sha1.toString('base64url') === thumbprintSha1),
    );
    if (!key) {
      throw new EntraError(
        401,
        'invalid_client',
        700027,
        `The certificate with identifier used to sign the client assertion is not registered on application. [Reason - The key was not found., Thumbprint of key used by client: '${hexShown}', Please visit the Azure Portal, Graph Explorer or directly use MS Graph to see configured keys for app Id '${client.clientId}'. Review the documentation at https://docs.microsoft.com/en-us/graph/deployments to determine the corresponding service endpoint and https://docs.microsoft.com/en-us/graph/api/application-get?view=graph-rest-1.0&tabs=http to build a query request URL, such as 'https://graph.microsoft.com/beta/applications/${client.objectId}']`,
      );
    }
    const nowMs = this.options.now();
    if (key.forcedExpired || key.endMs <= nowMs) {
      throw new EntraError(
        401,
        'invalid_client',
        700027,
        `Client assertion contains an invalid signature. [Reason - The key used is expired., Thumbprint of key used by client: '${hexShown}', Found key 'Start=${new Date(key.startMs).toISOString()}, End=${new Date(key.endMs).toISOString()}', Please visit the Azure Portal, Graph Explorer or directly use MS Graph to see configured keys for app Id '${client.clientId}'.]`,
      );
    }
    try {
      await jwtVerify(assertion, key.publicKey, {
        algorithms: ['RS256', 'PS256'],
        currentDate: new Date(nowMs),
        clockTolerance: 300,
      });
    } catch (error) {
      const code = (error as { code?: string }).code;
      if (code === 'ERR_JWT_EXPIRED' || code === 'ERR_JWT_CLAIM_VALIDATION_FAILED') throw assertionTimeRange();
      throw new EntraError(
        401,
        'invalid_client',
        700027,
        `Client assertion contains an invalid signature. [Reason - The provided signature value did not match the expected signature value., Thumbprint of key used by client: '${hexShown}']`,
      );
    }
    if (claims.iss !== client.clientId || claims.sub !== client.clientId) {
      throw new EntraError(
        401,
        'invalid_client',
        700021,
        "Client assertion application identifier doesn't match 'client_id' parameter. Review the documentation at https://docs.microsoft.com/en-us/azure/active-directory/develop/active-directory-certificate-credentials .",
      );
    }
    const audiences = Array.isArray(claims.aud) ? claims.aud : [claims.aud];
    const accepted = [
      this.tokenEndpoint(),
      `https://login.microsoftonline.com/${this.tenantId}/oauth2/v2.0/token`,
      v2Issuer(this.tenantId),
    ];
    if (!audiences.some((aud) => typeof aud === 'string' && accepted.includes(aud))) {
      throw new EntraError(
        401,
        'invalid_client',
        700016,
        `The audience claim of the client assertion is not valid. Expected '${this.tokenEndpoint()}'.`,
      );
    }
    // Entra wants a short-lived assertion: exp present, at most ~10 minutes (plus slack) after nbf/iat.
    const startSeconds = claims.nbf ?? claims.iat;
    if (claims.exp === undefined || (startSeconds !== undefined && claims.exp - startSeconds > 60 * 60)) {
      throw assertionTimeRange();
    }
  }

  private async checkFederatedAssertion(
    client: AppRegistration,
    assertion: string,
    claims: ReturnType<typeof decodeJwt>,
  ): Promise<void> {
    const audiences = (Array.isArray(claims.aud) ? claims.aud : [claims.aud]).filter(
      (aud): aud is string => typeof aud === 'string',
    );
    if (client.federatedCredentials.length === 0 && client.keyCredentials.length > 0) {
      throw new EntraError(
        401,
        'invalid_client',
        700027,
        "Client assertion failed signature validation. [Reason - The key was not found., Thumbprint of key used by client: '']",
      );
    }
    // Azure fidelity: "federated credential mismatches" (docs/azure-fidelity.md): Entra checks
    // issuer, then subject, then audience, and answers 401 invalid_client with a code for each.
    const byIssuer = client.federatedCredentials.filter((fic) => fic.issuer === claims.iss);
    const bySubject = byIssuer.filter((fic) => fic.subject === claims.sub);
    const matching = bySubject.find((fic) => fic.audiences.some((aud) => audienceMatches(aud, audiences)));
    const shown = `Assertion Issuer: '${String(claims.iss)}'. Assertion Subject: '${String(claims.sub)}'. Assertion Audience: '${audiences.join(',')}'.`;
    const link = 'https://learn.microsoft.com/entra/workload-id/workload-identity-federation';
    if (byIssuer.length === 0) {
      throw new EntraError(
        401,
        'invalid_client',
        700211,
        `No matching federated identity record found for presented assertion issuer '${String(claims.iss)}'. Please check your federated identity credential Subject, Audience and Issuer against the presented assertion. ${link}`,
      );
    }
    if (bySubject.length === 0) {
      throw new EntraError(
        401,
        'invalid_client',
        700213,
        `No matching federated identity record found for presented assertion subject '${String(claims.sub)}'. Please check your federated identity credential Subject, Audience and Issuer against the presented assertion. ${link} ${shown}`,
      );
    }
    if (!matching) {
      throw new EntraError(
        401,
        'invalid_client',
        700212,
        `No matching federated identity record found for presented assertion audience '${audiences.join(',')}'. Please check your federated identity credential Subject, Audience and Issuer against the presented assertion. ${link}`,
      );
    }
    try {
      // Entra fetches the issuer's keys through its OIDC metadata; the emulator is that issuer.
      await jwtVerify(assertion, this.options.keys.keyResolver(), {
        algorithms: ['RS256'],
        currentDate: new Date(this.options.now()),
      });
    } catch (error) {
      const code = (error as { code?: string }).code;
      if (code === 'ERR_JWT_EXPIRED') throw assertionTimeRange();
      throw new EntraError(
        401,
        'invalid_client',
        700027,
        'Client assertion failed signature validation. [Reason - The key was not found.]',
      );
    }
  }

  private checkReplay(claims: ReturnType<typeof decodeJwt>): void {
    if (!this.options.rejectReplayedAssertions) return;
    const nowSeconds = Math.floor(this.options.now() / 1000);
    for (const [jti, exp] of this.usedJtis) if (exp < nowSeconds) this.usedJtis.delete(jti);
    const jti = typeof claims.jti === 'string' ? claims.jti : typeof claims.uti === 'string' ? claims.uti : undefined;
    if (jti === undefined) return;
    if (this.usedJtis.has(jti)) {
      throw new EntraError(
        401,
        'invalid_client',
        700025,
        'Client assertion has already been used (jti replay). A client assertion can be presented only once.',
      );
    }
    this.usedJtis.set(jti, claims.exp ?? nowSeconds + 3600);
  }

  /** Signs an app-only access token as Entra issues it to `client` for `resource`. */
  async issueAppToken(
    client: AppRegistration,
    resource: AppRegistration,
    requestedResourceId: string,
    lifetimeSeconds: number,
  ): Promise<string> {
    const iat = this.options.keys.nowSeconds();
    const roles = client.grantedRoles.get(resource.clientId) ?? [];
    const v2 = resource.accessTokenVersion === 2;
    const common: Record<string, unknown> = {
      aud: v2 ? resource.clientId : requestedResourceId,
      iss: v2 ? v2Issuer(this.tenantId) : v1Issuer(this.tenantId),
      iat,
      nbf: iat,
      exp: iat + lifetimeSeconds,
      aio: randomBytes(24).toString('base64'),
      idp: v1Issuer(this.tenantId),
      oid: client.objectId,
      rh: `0.${randomBytes(16).toString('base64url')}.`,
      sub: client.objectId,
      tid: this.tenantId,
      uti: randomBytes(16).toString('base64url'),
      ver: v2 ? '2.0' : '1.0',
      xms_ftd: randomBytes(16).toString('base64url'),
      xms_idrel: '7 14',
    };
    if (roles.length > 0) common.roles = [...roles];
    // Azure fidelity: "idtyp is optional" (docs/azure-fidelity.md).
    if (resource.optionalAccessTokenClaims.includes('idtyp')) common.idtyp = 'app';
    const claims = v2
      ? { ...common, azp: client.clientId, azpacr: '1', appid: client.clientId }
      : { ...common, appid: client.clientId, appidacr: '1' };
    return this.options.keys.sign(claims);
  }

  private sendError(req: IncomingMessage, res: ServerResponse, error: EntraError): void {
    const traceId = randomUUID();
    const header = req.headers['client-request-id'];
    const correlationId = typeof header === 'string' && /^[0-9a-f-]{36}$/i.test(header) ? header : randomUUID();
    const timestamp = entraTimestamp(Date.now());
    sendJson(res, error.status, {
      error: error.error,
      error_description: `${error.message} Trace ID: ${traceId} Correlation ID: ${correlationId} Timestamp: ${timestamp}`,
      error_codes: [error.code],
      timestamp,
      trace_id: traceId,
      correlation_id: correlationId,
      error_uri: `https://login.microsoftonline.com/error?code=${error.code}`,
    });
  }
}

/**
 * Whether a federated credential's audience accepts an assertion's `aud`. The managed identity
 * token for a token-exchange audience carries the token-exchange app's ID as `aud`, and Entra
 * accepts it for a credential that names the audience URI. Azure fidelity: "sovereign clouds".
 */
function audienceMatches(ficAudience: string, assertionAudiences: readonly string[]): boolean {
  if (assertionAudiences.includes(ficAudience)) return true;
  const exchange = (TOKEN_EXCHANGE_RESOURCES as readonly string[]).includes(ficAudience);
  return exchange && assertionAudiences.some((aud) => aud.toLowerCase() === TOKEN_EXCHANGE_APP_ID);
}

function missingParameter(name: string): EntraError {
  return new EntraError(
    400,
    'invalid_request',
    900144,
    `The request body must contain the following parameter: '${name}'.`,
  );
}

function assertionTimeRange(): EntraError {
  return new EntraError(
    401,
    'invalid_client',
    700024,
    'Client assertion is not within its valid time range. Ensure that the assertion is not expired and is short-lived (the assertion lifetime must be less than an hour).',
  );
}
