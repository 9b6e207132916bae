import { randomBytes, randomUUID } from 'node:crypto';
import { BROKER_API_URI, BROKER_ROLE, Directory, newApp, THIRD_PARTY_ROLE } from './directory';
import type { AppRegistration } from './directory';
import type { ManagedIdentity } from './managedIdentity';

/** A caller workload registered in the tenant (`callers` in stack.json). */
export interface EmulatorCaller {
  name: string;
  clientId: string;
  clientSecret: string;
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
  managedIdentity: ManagedIdentity;
}

/** A client secret shaped like Entra's (`xxx8Q~` + 34 characters). */
export function newClientSecret(): string {
  const text = randomBytes(40).toString('base64url').replace(/[-_]/g, 'x');
  return `${text.slice(0, 3)}8Q~${text.slice(3, 37)}`;
}

/** Builds a fresh tenant with random IDs (every emulator run is a new tenant). */
export function createTenant(tenantId: string): Tenant {
  const directory = new Directory(tenantId);
  const brokerApi = directory.add(
    newApp('entra-token-broker API', { identifierUris: [BROKER_API_URI], appRoles: [BROKER_ROLE] }),
  );
  const thirdParty = newApp('Third-party API (stand-in)', { appRoles: [THIRD_PARTY_ROLE] });
  thirdParty.identifierUris = [`api://${thirdParty.clientId}`];
  directory.add(thirdParty);
  const secondResource = newApp('Second resource API', { appRoles: [THIRD_PARTY_ROLE] });
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

  const managedIdentity: ManagedIdentity = {
    clientId: randomUUID(),
    principalId: randomUUID(),
    resourceId:
      '/subscriptions/00000000-0000-0000-0000-000000000000/resourcegroups/rg-emulator/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id-entra-token-broker',
  };
  return { directory, brokerApi, brokerApp, thirdParty, secondResource, scopes, callers, managedIdentity };
}
