import { randomBytes, randomUUID } from 'node:crypto';
import { BROKER_API_URI, BROKER_ROLE, Directory, newApp, THIRD_PARTY_ROLE } from './directory';
import type { AppRegistration } from './directory';
import type { ManagedIdentity } from './managedIdentity';

/** A caller workload registered in the tenant (`callers` in stack.json). */
export interface EmulatorCaller {
  name: string;
  clientId: string;
  /** Empty for a managed identity caller (it has no secret; it asks the managed identity endpoint). */
  clientSecret: string;
  /**
   * Set for a workload's managed identity: its token comes from the managed identity endpoint
   * with `client_id` = `clientId`, as a v1 token by default. Azure fidelity: "v1 access tokens".
   */
  managedIdentity?: { principalId: string };
  audience: string;
  allowedScopes: string[];
  roles: string[];
}

/** The emulated tenant: its directory and the apps the broker scenario needs. */
export interface Tenant {
  directory: Directory;
  /** The broker's own audience (`api://entra-token-broker`, app role `Token.Request`). */
  brokerApi: AppRegistration;
  /** The broker's app registration (the client of the third-party API). */
  brokerApp: AppRegistration;
  thirdParty: AppRegistration;
  secondResource: AppRegistration;
  /** [0] the third-party API's `.default` scope, [1] the second resource's. */
  scopes: string[];
  callers: EmulatorCaller[];
  /** The broker's own (user-assigned) identity: reads Key Vault, federated-credential assertion. */
  managedIdentity: ManagedIdentity;
  /** Every identity the managed identity endpoint serves: the broker's, then the workloads'. */
  identities: ManagedIdentity[];
}

/** A client secret shaped like Entra's (`xxx8Q~` + 34 characters). */
export function newClientSecret(): string {
  const text = randomBytes(40).toString('base64url').replace(/[-_]/g, 'x');
  return `${text.slice(0, 3)}8Q~${text.slice(3, 37)}`;
}

/** Builds a fresh tenant with random IDs (every emulator run is a new tenant). */
export function createTenant(tenantId: string): Tenant {
  const directory = new Directory(tenantId);
  // As created by `az ad app create` in docs/deploying.md: accessTokenAcceptedVersion left null
  // (v1 tokens), no optional claims, assignment not required. Drills change these per test.
  const brokerApi = directory.add(
    newApp('entra-token-broker API', { identifierUris: [BROKER_API_URI], appRoles: [BROKER_ROLE] }),
  );
  // A third-party API that chose v2 tokens and asks for idtyp (it checks for app-only tokens).
  const apiSettings = {
    appRoles: [THIRD_PARTY_ROLE],
    accessTokenVersion: 2 as const,
    optionalAccessTokenClaims: ['idtyp'],
  };
  const thirdParty = newApp('Third-party API (stand-in)', apiSettings);
  thirdParty.identifierUris = [`api://${thirdParty.clientId}`];
  directory.add(thirdParty);
  const secondResource = newApp('Second resource API', { ...apiSettings, optionalAccessTokenClaims: [] });
  secondResource.identifierUris = [`api://${secondResource.clientId}`];
  directory.add(secondResource);
  const brokerApp = directory.add(newApp('entra-token-broker'));
  brokerApp.grantedRoles.set(thirdParty.clientId, [THIRD_PARTY_ROLE]);
  brokerApp.grantedRoles.set(secondResource.clientId, [THIRD_PARTY_ROLE]);
  const scopes = [`${thirdParty.identifierUris[0]}/.default`, `${secondResource.identifierUris[0]}/.default`];

  const callerSpecs: { name: string; roles: string[]; allowed: string[] }[] = [
    { name: 'workload-a', roles: [BROKER_ROLE], allowed: [scopes[0]!] },
    { name: 'workload-denied', roles: [BROKER_ROLE], allowed: [] },
    { name: 'workload-norole', roles: [], allowed: [scopes[0]!] },
  ];
  const callers = callerSpecs.map((spec): EmulatorCaller => {
    const clientSecret = newClientSecret();
    const app = directory.add(newApp(spec.name));
    app.passwords.push({
      keyId: randomUUID(),
      value: clientSecret,
      endMs: undefined,
      revoked: false,
      forcedExpired: false,
    });
    if (spec.roles.length > 0) app.grantedRoles.set(brokerApi.clientId, [...spec.roles]);
    return {
      name: spec.name,
      clientId: app.clientId,
      clientSecret,
      audience: brokerApi.clientId,
      allowedScopes: spec.allowed,
      roles: spec.roles,
    };
  });

  const managedIdentity = newIdentity('id-entra-token-broker');
  // Deployed callers are mostly managed identities: one with the broker's app role, allowed the
  // default scope, whose token is v1 (the broker API's default) and has no idtyp.
  const workloadIdentity = newIdentity('id-workload-mi');
  const workloadPrincipal = directory.add(
    newApp(workloadIdentity.name, { clientId: workloadIdentity.clientId, objectId: workloadIdentity.principalId }),
  );
  workloadPrincipal.grantedRoles.set(brokerApi.clientId, [BROKER_ROLE]);
  callers.push({
    name: 'workload-mi',
    clientId: workloadIdentity.clientId,
    clientSecret: '',
    managedIdentity: { principalId: workloadIdentity.principalId },
    audience: BROKER_API_URI,
    allowedScopes: [scopes[0]!],
    roles: [BROKER_ROLE],
  });
  return {
    directory,
    brokerApi,
    brokerApp,
    thirdParty,
    secondResource,
    scopes,
    callers,
    managedIdentity,
    identities: [managedIdentity, workloadIdentity],
  };
}

function newIdentity(name: string): ManagedIdentity {
  return {
    name,
    clientId: randomUUID(),
    principalId: randomUUID(),
    resourceId: `/subscriptions/00000000-0000-0000-0000-000000000000/resourcegroups/rg-emulator/providers/Microsoft.ManagedIdentity/userAssignedIdentities/${name}`,
  };
}
