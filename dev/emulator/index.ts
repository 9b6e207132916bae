import { createServer as createHttpsServer } from 'node:https';
import { request as httpsRequest } from 'node:https';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomBytes, randomUUID } from 'node:crypto';
import { BrokerCredentials, DEFAULT_ACTIVATION_DELAY_SECONDS } from './brokerCredentials';
import type { CredentialKind } from './brokerCredentials';
import { CONTROL_PREFIX, handleControl } from './control';
import type { ControlTarget } from './control';
import { BROKER_API_URI, BROKER_ROLE } from './directory';
import { EntraAuthority, INTERNAL_HEADER } from './entra';
import { FaultInjector } from './faults';
import { sendJson } from './http';
import { KeyVault } from './keyVault';
import { latencyTargetOf, UpstreamLatency } from './latency';
import { MANAGED_IDENTITY_PATH, ManagedIdentityEndpoint } from './managedIdentity';
import { SigningKeys } from './signingKeys';
import { createTenant } from './tenant';
import { createThirdPartyApi } from './thirdPartyApi';
import { createTlsMaterial } from './tls';
import type { EmulatorInfo, EmulatorStats, RunningEmulator, UpstreamArrival } from './emulatorTypes';
import type { EmulatorCaller } from './tenant';

export type { FaultSpec, FaultTarget } from './faults';
export type { LatencySpec, LatencyTarget } from './latency';

export type { CredentialKind } from './brokerCredentials';
export type { EmulatorCaller } from './tenant';
export type { KeyVaultPaging } from './keyVault';
export type {
  BrokerApiSettings,
  EmulatorInfo,
  EmulatorStats,
  FederatedCredentialChange,
  RunningEmulator,
  UpstreamArrival,
} from './emulatorTypes';

export interface EmulatorOptions {
  /** HTTPS port for Entra + managed identity + Key Vault + control; 0 (default) = ephemeral. */
  port?: number;
  /** Plain-HTTP port of the stand-in third-party API; 0 = ephemeral. */
  thirdPartyPort?: number;
  /** How the broker app authenticates; default 'secret'. */
  credentialKind?: CredentialKind;
  /** Key Vault name of the broker's credential; default 'entra-client-secret'. */
  credentialName?: string;
  /** Value of the first secret version (tests use a canary); default random. */
  clientSecret?: string;
  /** exp of the first version (secret, or the certificate's notAfter); null = no expiry; default 90. */
  secretExpiresInDays?: number | null;
  /** expires_in of issued access tokens; default 3599. */
  tokenLifetimeSeconds?: number;
  /** Clock for issued tokens and expiry checks; default Date.now. */
  now?: () => number;
  /** When set, token responses carry `refresh_in` (Entra sends it for long-lived tokens); default absent. */
  refreshInSeconds?: number;
  /**
   * Refuse a client assertion whose `jti` was already used. Default false: MSAL reuses one
   * certificate assertion until it expires and the real Entra accepts that; turn on only for tests
   * of a hand-made assertion.
   */
  rejectReplayedAssertions?: boolean;
  /**
   * Seconds before a rotated credential works in Entra (per rotation: `activationDelaySeconds`);
   * default 15, as Entra commonly needs 5–20 s. The first credential works at once.
   */
  credentialActivationDelaySeconds?: number;
  /** Most items in a Key Vault listing page (1–25); default 25. */
  keyVaultPageSize?: number;
  /** The audience of the broker's federated credential (per cloud); default api://AzureADTokenExchange. */
  tokenExchangeAudience?: string;
}

function listen(server: Server, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => {
      server.off('error', reject);
      resolve((server.address() as AddressInfo).port);
    });
  });
}

function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}

/**
 * Starts the local Azure emulator: Entra authority, managed identity endpoint, Key Vault and control
 * API on one HTTPS port (127.0.0.1, CA generated here), and the stand-in third-party API on plain HTTP.
 */
export async function startEmulator(options: EmulatorOptions = {}): Promise<RunningEmulator> {
  const now = options.now ?? Date.now;
  const credentialKind = options.credentialKind ?? 'secret';
  const credentialName = options.credentialName ?? 'entra-client-secret';
  const tokenLifetimeSeconds = options.tokenLifetimeSeconds ?? 3599;
  const tls = createTlsMaterial(Date.now());
  const tenantId = randomUUID();
  const keys = await SigningKeys.create(now);
  const faults = new FaultInjector();
  const latency = new UpstreamLatency();
  const upstreamListeners = new Set<(arrival: UpstreamArrival) => void>();
  let stats: EmulatorStats = { tokenRequests: {}, keyVaultReads: {}, managedIdentityRequests: 0 };

  let route: (req: IncomingMessage, res: ServerResponse) => Promise<void> = async (_req, res) =>
    sendJson(res, 503, { error: 'starting' });
  const server = createHttpsServer({ key: tls.server.keys.privateKeyPem, cert: tls.server.certPem }, (req, res) => {
    route(req, res).catch((error: unknown) => {
      console.error('emulator: request failed', error instanceof Error ? error.message : error);
      if (!res.headersSent) sendJson(res, 500, { error: 'server_error' });
      else res.destroy();
    });
  });
  const port = await listen(server, options.port ?? 0);
  const url = `https://127.0.0.1:${port}`;

  const { directory, brokerApi, brokerApp, thirdParty, scopes, callers, managedIdentity, identities } =
    createTenant(tenantId);
  const identityHeader = randomBytes(16).toString('hex');
  const internalSecret = randomBytes(16).toString('hex');

  // --- services ---
  const entra = new EntraAuthority({
    url,
    directory,
    keys,
    faults,
    now,
    tokenLifetimeSeconds,
    ...(options.refreshInSeconds !== undefined ? { refreshInSeconds: options.refreshInSeconds } : {}),
    rejectReplayedAssertions: options.rejectReplayedAssertions ?? false,
    internalSecret,
    onTokenRequest(clientId, scope) {
      const byScope = (stats.tokenRequests[clientId] ??= {});
      byScope[scope] = (byScope[scope] ?? 0) + 1;
    },
  });
  const keyVault = new KeyVault({
    url,
    authorityHost: url,
    tenantId,
    keys,
    faults,
    now,
    readers: new Set([managedIdentity.principalId]),
    onRead(name) {
      stats.keyVaultReads[name] = (stats.keyVaultReads[name] ?? 0) + 1;
    },
  });
  if (options.keyVaultPageSize !== undefined) keyVault.setPaging({ pageSize: options.keyVaultPageSize });
  const msi = new ManagedIdentityEndpoint({
    tenantId,
    directory,
    identities,
    identityHeader,
    keys,
    faults,
    onRequest() {
      stats.managedIdentityRequests += 1;
    },
  });

  const credentials = new BrokerCredentials({
    kind: credentialKind,
    name: credentialName,
    defaultExpiryDays: options.secretExpiresInDays === undefined ? 90 : options.secretExpiresInDays,
    brokerApp,
    keyVault,
    tenantId,
    managedIdentityPrincipalId: managedIdentity.principalId,
    now,
    activationDelaySeconds: options.credentialActivationDelaySeconds ?? DEFAULT_ACTIVATION_DELAY_SECONDS,
    ...(options.tokenExchangeAudience !== undefined ? { tokenExchangeAudience: options.tokenExchangeAudience } : {}),
  });
  credentials.initialise(options.clientSecret);

  // --- third-party API ---
  const thirdPartyServer = createThirdPartyApi({
    tenantId,
    audience: thirdParty.clientId,
    identifierUri: thirdParty.identifierUris[0]!,
    keys,
    now,
  });
  let thirdPartyPort: number;
  try {
    thirdPartyPort = await listen(thirdPartyServer, options.thirdPartyPort ?? 0);
  } catch (error) {
    await closeServer(server);
    throw error;
  }

  const tokenEndpoint = entra.tokenEndpoint();
  const controlUrl = `${url}${CONTROL_PREFIX}`;
  const identityEndpoint = `${url}${MANAGED_IDENTITY_PATH}`;

  const emulator: RunningEmulator & ControlTarget = {
    url,
    caPem: tls.ca.certPem,
    tenantId,
    authorityHost: url,
    tokenEndpoint,
    jwksUri: entra.jwksUri(),
    keyVaultUrl: url,
    identityEndpoint,
    identityHeader,
    managedIdentity: { clientId: managedIdentity.clientId, principalId: managedIdentity.principalId },
    broker: {
      clientId: brokerApp.clientId,
      credentialName,
      credentialKind,
      audience: brokerApi.clientId,
      audienceUri: BROKER_API_URI,
    },
    scopes,
    callers,
    thirdPartyApi: { url: `http://127.0.0.1:${thirdPartyPort}/api/data`, audience: thirdParty.clientId },
    controlUrl,

    brokerSettings() {
      const policy: Record<string, string[]> = {};
      for (const caller of callers) policy[caller.clientId] = [...caller.allowedScopes];
      // Entra writes a v1 `aud` as the caller spelled the resource, so both URI spellings are
      // accepted by the broker (it adds the one with the trailing slash itself).
      return {
        ENTRA_TENANT_ID: tenantId,
        ENTRA_CLIENT_ID: brokerApp.clientId,
        ENTRA_AUTHORITY_HOST: url,
        KEY_VAULT_URL: url,
        CLIENT_CREDENTIAL_NAME: credentialName,
        CLIENT_CREDENTIAL_KIND: credentialKind,
        TOKEN_SCOPES: scopes.join(','),
        CALLER_AUDIENCES: `${brokerApi.clientId},${BROKER_API_URI}`,
        CALLER_TENANTS: tenantId,
        CALLER_REQUIRED_ROLE: BROKER_ROLE,
        CALLER_POLICY: JSON.stringify(policy),
        IDENTITY_ENDPOINT: identityEndpoint,
        IDENTITY_HEADER: identityHeader,
        AZURE_CLIENT_ID: managedIdentity.clientId,
        // The emulator's host is no Microsoft cloud, so a sovereign audience must be set explicitly.
        ...(options.tokenExchangeAudience !== undefined
          ? { ENTRA_TOKEN_EXCHANGE_AUDIENCE: options.tokenExchangeAudience }
          : {}),
      };
    },

    stats() {
      return JSON.parse(JSON.stringify(stats)) as EmulatorStats;
    },
    setFault(fault) {
      faults.set(fault);
    },
    clearFaults() {
      faults.clear();
    },
    listFaults() {
      return faults.list();
    },
    setLatency(spec) {
      latency.set(spec);
    },
    clearLatency() {
      latency.clear();
    },
    listLatency() {
      return latency.list();
    },
    onUpstreamRequest(listener) {
      upstreamListeners.add(listener);
      return () => upstreamListeners.delete(listener);
    },
    reset() {
      stats = { tokenRequests: {}, keyVaultReads: {}, managedIdentityRequests: 0 };
      faults.clear();
      latency.clear();
    },

    async rotate(rotation) {
      return credentials.rotate(rotation);
    },
    setSecretEnabled(version, enabled) {
      if (!keyVault.setEnabled(version, enabled)) throw new Error(`No Key Vault version ${version}.`);
    },
    revokeCredential(version) {
      credentials.revoke(version);
    },
    expireCredentialInEntra(version) {
      credentials.expire(version);
    },
    setFederatedSubject(subject) {
      credentials.setFederatedCredential({ subject });
    },
    setFederatedCredential(change) {
      credentials.setFederatedCredential(change);
    },
    setManagedIdentityAssigned(clientId, assigned) {
      msi.setAssigned(clientId, assigned);
    },
    setKeyVaultPaging(paging) {
      return keyVault.setPaging(paging);
    },
    configureBrokerApi(settings) {
      if (settings.accessTokenVersion !== undefined) brokerApi.accessTokenVersion = settings.accessTokenVersion;
      if (settings.idtypClaim !== undefined) {
        brokerApi.optionalAccessTokenClaims = settings.idtypClaim ? ['idtyp'] : [];
      }
      if (settings.appRoleAssignmentRequired !== undefined) {
        brokerApi.appRoleAssignmentRequired = settings.appRoleAssignmentRequired;
      }
      return {
        accessTokenVersion: brokerApi.accessTokenVersion,
        idtypClaim: brokerApi.optionalAccessTokenClaims.includes('idtyp'),
        appRoleAssignmentRequired: brokerApi.appRoleAssignmentRequired,
      };
    },
    publishSigningKey() {
      return keys.publishNext();
    },
    signJwt(claims, signOptions) {
      return keys.sign(claims, signOptions);
    },
    async callerToken(caller, scope = `${BROKER_API_URI}/.default`) {
      const found =
        typeof caller === 'string' ? callers.find((c) => c.name === caller || c.clientId === caller) : caller;
      if (!found) throw new Error(`No emulated caller named ${typeof caller === 'string' ? caller : caller.name}.`);
      if (found.managedIdentity) return managedIdentityCallerToken(found, scope);
      const form = new URLSearchParams({
        grant_type: 'client_credentials',
        client_id: found.clientId,
        client_secret: found.clientSecret,
        scope,
      }).toString();
      const { status, body } = await postForm(tokenEndpoint, form, tls.ca.certPem, internalSecret);
      const parsed = JSON.parse(body) as { access_token?: string; error?: string; error_codes?: number[] };
      if (status !== 200 || !parsed.access_token) {
        throw new Error(
          `Caller token request failed: ${status} ${parsed.error ?? ''} ${String(parsed.error_codes ?? '')}`,
        );
      }
      return parsed.access_token;
    },
    rollSigningKeys() {
      return keys.roll();
    },
    info(): EmulatorInfo {
      return {
        url,
        tenantId,
        authorityHost: url,
        tokenEndpoint,
        jwksUri: entra.jwksUri(),
        keyVaultUrl: url,
        identityEndpoint,
        managedIdentity: emulator.managedIdentity,
        broker: emulator.broker,
        scopes,
        callers: callers.map((c) => ({ ...c })),
        thirdPartyApi: emulator.thirdPartyApi,
        controlUrl,
      };
    },
    async close() {
      faults.releaseHanging();
      await Promise.all([closeServer(server), closeServer(thirdPartyServer)]);
    },
  };

  /** A workload identity's token, as the managed identity endpoint would hand it out (never faulted). */
  async function managedIdentityCallerToken(caller: EmulatorCaller, scope: string): Promise<string> {
    const identity = identities.find((candidate) => candidate.clientId === caller.clientId);
    const resourceId = scope.replace(/\/\.default$/, '');
    const resource = directory.resource(resourceId);
    if (!identity || !resource) throw new Error(`No managed identity token for ${caller.name} and ${scope}.`);
    const roles = directory.byClientId(identity.clientId)?.grantedRoles.get(resource.clientId) ?? [];
    if (resource.appRoleAssignmentRequired && roles.length === 0) {
      throw new Error('Caller token request failed: 400 AADSTS501051 (no app role assignment)');
    }
    return msi.issue(identity, resource, resourceId, roles);
  }

  const routeRequest = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const requestUrl = new URL(req.url ?? '/', url);
    const path = requestUrl.pathname;
    if (path === CONTROL_PREFIX || path.startsWith(`${CONTROL_PREFIX}/`))
      return handleControl(req, res, path, emulator);
    const target = latencyTargetOf(path);
    if (target !== undefined)
      for (const listener of upstreamListeners) listener({ target, path, atMs: performance.now() });
    await latency.delay(path);
    if (path === MANAGED_IDENTITY_PATH) return msi.handle(req, res, requestUrl);
    if (await keyVault.handle(req, res, requestUrl)) return;
    if (await entra.handle(req, res, path)) return;
    sendJson(res, 404, { error: 'not_found' });
  };
  route = routeRequest;
  return emulator;
}

function postForm(
  target: string,
  form: string,
  ca: string,
  internalSecret: string,
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest(
      target,
      {
        method: 'POST',
        ca,
        agent: false,
        headers: {
          'Content-Type': 'application/x-www-form-urlencoded',
          'Content-Length': Buffer.byteLength(form),
          [INTERNAL_HEADER]: internalSecret,
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(form);
  });
}
