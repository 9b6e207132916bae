/**
 * What a security review checks on the compiled template, in both parameter sets (main.bicepparam's
 * sample environment, and the same with NETWORK_ISOLATION=true): every role assignment (principal,
 * role, scope) and nothing broader, one identity per job, Easy Auth derived from the broker's own
 * settings, the webhook URL never in an app setting, a small request body limit, diagnostics.
 * docs/security.md explains each choice; the tables there are these expectations.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { ArmValue } from './armExpression';
import {
  BUILD_TIMEOUT_MS,
  buildInfra,
  type DeployedResource,
  deployedModules,
  deployedResources,
  describeWithBicep,
  evaluateIn,
  type InfraBuild,
  obj,
  repoRoot,
  str,
} from './armTemplate';

const ROLE_NAMES: Readonly<Record<string, string>> = {
  '4633458b-17de-408a-b874-0445c86b69e6': 'Key Vault Secrets User',
  'db79e9a7-68ee-4b58-9aeb-b90e7c24fcba': 'Key Vault Certificate User',
  'b86a8fe4-44ce-4948-aee5-eccb2c155cd7': 'Key Vault Secrets Officer',
  'a4417e6f-fecd-4de8-b567-7b0420556985': 'Key Vault Certificates Officer',
  'b7e6dc6d-f1e8-4753-8033-0f276bb0955b': 'Storage Blob Data Owner',
  'ba92f5b4-2d11-453d-a403-e96b0029c9fe': 'Storage Blob Data Contributor',
  '3913510d-42f4-4e42-8a64-420c390055eb': 'Monitoring Metrics Publisher',
};

/** Who the placeholders of module outputs are (main.bicep's three identities). */
const PRINCIPALS: Readonly<Record<string, string>> = {
  '<identity.principalId>': 'runtime identity',
  '<deploymentIdentity.principalId>': 'deployment identity',
  '<federatedIdentity.principalId>': 'federated identity',
  '44444444-4444-4444-4444-444444444444': 'operator (AZURE_PRINCIPAL_ID)',
};

// Readable scopes: resource names are only known at deployment (uniqueString), so they stay placeholders.
const VAULT = '/providers/Microsoft.KeyVault/vaults/<keyVault.name>';
const CONTAINERS = '/providers/Microsoft.Storage/storageAccounts/<storage.name>/blobServices/default/containers';
const APP_INSIGHTS = '/providers/Microsoft.Insights/components/<monitoring.appInsightsName>';

interface Assignment {
  principal: string;
  role: string;
  scope: string;
}

function roleAssignments(build: InfraBuild, parameters: Record<string, ArmValue>): Assignment[] {
  return deployedResources(build.main, parameters)
    .filter((deployed) => deployed.resource.type === 'Microsoft.Authorization/roleAssignments')
    .map((deployed) => {
      const properties = obj(deployed.resource.properties);
      const principal = str(evaluateIn(deployed, properties.principalId));
      const roleId = str(evaluateIn(deployed, properties.roleDefinitionId)).replace(/.*\//, '');
      return {
        principal: PRINCIPALS[principal] ?? principal,
        role: ROLE_NAMES[roleId] ?? roleId,
        scope: str(evaluateIn(deployed, deployed.resource.scope)),
      };
    })
    .sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b)));
}

const sorted = (assignments: Assignment[]) =>
  [...assignments].sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b)));

// What every deployment grants, whatever the credential kind (the host and telemetry).
const HOST_ASSIGNMENTS: Assignment[] = [
  { principal: 'runtime identity', role: 'Monitoring Metrics Publisher', scope: APP_INSIGHTS },
  { principal: 'runtime identity', role: 'Storage Blob Data Owner', scope: `${CONTAINERS}/azure-webjobs-hosts` },
  { principal: 'runtime identity', role: 'Storage Blob Data Owner', scope: `${CONTAINERS}/azure-webjobs-secrets` },
  {
    principal: 'deployment identity',
    role: 'Storage Blob Data Contributor',
    scope: `${CONTAINERS}/<storage.deploymentContainerName>`,
  },
  { principal: 'operator (AZURE_PRINCIPAL_ID)', role: 'Key Vault Secrets Officer', scope: VAULT },
  { principal: 'operator (AZURE_PRINCIPAL_ID)', role: 'Key Vault Certificates Officer', scope: VAULT },
];

function site(build: InfraBuild, parameters: Record<string, ArmValue>): DeployedResource {
  const sites = deployedResources(build.main, parameters).filter((d) => d.resource.type === 'Microsoft.Web/sites');
  expect(sites).toHaveLength(1);
  return sites[0]!;
}

function appSettings(build: InfraBuild, parameters: Record<string, ArmValue>): Map<string, ArmValue> {
  const deployed = site(build, parameters);
  const entries = evaluateIn(deployed, obj(obj(deployed.resource.properties).siteConfig).appSettings) as {
    name: string;
    value: ArmValue;
  }[];
  return new Map(entries.map((entry) => [entry.name, entry.value]));
}

function authSettings(build: InfraBuild, parameters: Record<string, ArmValue>) {
  const found = deployedResources(build.main, parameters).filter(
    (d) => d.resource.type === 'Microsoft.Web/sites/config' && str(d.resource.name).includes('authsettingsV2'),
  );
  expect(found).toHaveLength(1);
  return evaluateIn(found[0]!, found[0]!.resource.properties) as {
    platform: { enabled: boolean };
    globalValidation: Record<string, ArmValue>;
    identityProviders: {
      azureActiveDirectory: {
        enabled: boolean;
        registration: { openIdIssuer: string; clientId?: string };
        validation: {
          allowedAudiences: string[];
          defaultAuthorizationPolicy: { allowedApplications: string[] };
          jwtClaimChecks: { allowedClientApplications: string[] };
        };
      };
    };
    login: Record<string, ArmValue>;
  };
}

describeWithBicep('infra: security of the deployment', () => {
  let build: InfraBuild;
  const parameterSets: [string, () => Record<string, ArmValue>][] = [
    ['defaults (main.bicepparam)', () => build.sampleParameters],
    ['networkIsolation=true', () => build.isolatedParameters],
  ];

  beforeAll(() => {
    build = buildInfra();
  }, BUILD_TIMEOUT_MS);

  describe('role assignments: the complete list, and nothing broader', () => {
    test.each(parameterSets)('%s, first deployment (secret not stored yet)', (_, parameters) => {
      expect(parameters().networkIsolation).toBe(_ !== 'defaults (main.bicepparam)');
      expect(roleAssignments(build, parameters())).toEqual(
        sorted([...HOST_ASSIGNMENTS, { principal: 'runtime identity', role: 'Key Vault Secrets User', scope: VAULT }]),
      );
    });

    test.each(parameterSets)('%s, once the secret exists: the broker reads that one secret', (_, parameters) => {
      expect(roleAssignments(build, { ...parameters(), credentialExists: true })).toEqual(
        sorted([
          ...HOST_ASSIGNMENTS,
          {
            principal: 'runtime identity',
            role: 'Key Vault Secrets User',
            scope: `${VAULT}/secrets/entra-client-secret`,
          },
        ]),
      );
    });

    test.each(parameterSets)('%s, certificate: vault-wide only until the certificate exists', (_, parameters) => {
      const certificate = { ...parameters(), clientCredentialKind: 'certificate' };
      expect(roleAssignments(build, certificate)).toEqual(
        sorted([
          ...HOST_ASSIGNMENTS,
          { principal: 'runtime identity', role: 'Key Vault Certificate User', scope: VAULT },
        ]),
      );
      expect(roleAssignments(build, { ...certificate, credentialExists: true })).toEqual(sorted(HOST_ASSIGNMENTS));
    });

    test.each(parameterSets)(
      '%s, federated: no Key Vault role, and the federated identity holds none',
      (_, parameters) => {
        for (const credentialExists of [false, true]) {
          const assignments = roleAssignments(build, {
            ...parameters(),
            clientCredentialKind: 'federated',
            credentialExists,
          });
          expect(assignments).toEqual(sorted(HOST_ASSIGNMENTS));
        }
      },
    );

    test.each(parameterSets)(
      '%s, with an alert webhook: the runtime identity reads that secret only',
      (_, parameters) => {
        expect(
          roleAssignments(build, {
            ...parameters(),
            credentialExists: true,
            alertWebhookUrl: 'https://hooks.example.com/alert?code=webhook-key',
          }),
        ).toEqual(
          sorted([
            ...HOST_ASSIGNMENTS,
            {
              principal: 'runtime identity',
              role: 'Key Vault Secrets User',
              scope: `${VAULT}/secrets/entra-client-secret`,
            },
            {
              principal: 'runtime identity',
              role: 'Key Vault Secrets User',
              scope: '/providers/Microsoft.KeyVault/vaults/<alertWebhookSecret.vaultName>/secrets/alert-webhook-url',
            },
          ]),
        );
      },
    );

    test('no role on the storage account, the resource group or the subscription; no management role', () => {
      for (const [, parameters] of parameterSets) {
        for (const assignment of roleAssignments(build, parameters())) {
          expect(assignment.scope).toMatch(
            /^\/providers\/Microsoft\.(KeyVault\/vaults|Storage\/storageAccounts\/[^/]+\/blobServices\/default\/containers|Insights\/components)\//,
          );
          expect(Object.values(ROLE_NAMES)).toContain(assignment.role);
        }
      }
    });

    test('the identity that serves traffic has no role on the deployment package', () => {
      const onPackage = roleAssignments(build, build.sampleParameters).filter((a) =>
        a.scope.endsWith('<storage.deploymentContainerName>'),
      );
      expect(onPackage).toEqual([
        {
          principal: 'deployment identity',
          role: 'Storage Blob Data Contributor',
          scope: `${CONTAINERS}/<storage.deploymentContainerName>`,
        },
      ]);
    });
  });

  describe('identities of the Function App', () => {
    test.each(parameterSets)('%s: the runtime identity serves, the deployment identity deploys', (_, parameters) => {
      const deployed = site(build, parameters());
      const properties = obj(deployed.resource.properties);
      expect(
        Object.keys(obj(evaluateIn(deployed, obj(deployed.resource.identity).userAssignedIdentities) as never)),
      ).toEqual(['<identity.id>', '<deploymentIdentity.id>']);
      const storage = obj(obj(obj(properties.functionAppConfig).deployment).storage);
      expect(evaluateIn(deployed, obj(storage.authentication).userAssignedIdentityResourceId)).toBe(
        '<deploymentIdentity.id>',
      );
      expect(evaluateIn(deployed, properties.keyVaultReferenceIdentity)).toBe('<identity.id>');
      const settings = appSettings(build, parameters());
      expect(settings.get('AzureWebJobsStorage__clientId')).toBe('<identity.clientId>');
      expect(settings.get('AZURE_CLIENT_ID')).toBe('<identity.clientId>');
    });

    test("federated mode attaches the federated identity and makes it the broker's AZURE_CLIENT_ID", () => {
      const federated = { ...build.sampleParameters, clientCredentialKind: 'federated' };
      const deployed = site(build, federated);
      expect(
        Object.keys(obj(evaluateIn(deployed, obj(deployed.resource.identity).userAssignedIdentities) as never)),
      ).toEqual(['<identity.id>', '<deploymentIdentity.id>', '<federatedIdentity.id>']);
      const settings = appSettings(build, federated);
      expect(settings.get('AZURE_CLIENT_ID')).toBe('<federatedIdentity.clientId>');
      // The host keeps its own identity for storage.
      expect(settings.get('AzureWebJobsStorage__clientId')).toBe('<identity.clientId>');
      expect(str(obj(build.main.outputs.FEDERATED_CREDENTIAL_SUBJECT).value)).toMatch(
        /'federatedIdentity'\).*\.outputs\.principalId\.value\]$/,
      );
    });
  });

  describe('Easy Auth (App Service Authentication) in front', () => {
    test.each(parameterSets)(
      '%s: on by default, 401 for unauthenticated callers, /api/health excluded',
      (_, parameters) => {
        const auth = authSettings(build, parameters());
        expect(auth.platform.enabled).toBe(true);
        expect(auth.globalValidation).toEqual({
          requireAuthentication: true,
          unauthenticatedClientAction: 'Return401',
          excludedPaths: ['/api/health'],
        });
        expect(auth.identityProviders.azureActiveDirectory.enabled).toBe(true);
        // No sessions: callers send a bearer token on every request.
        expect(auth.login).toEqual({ tokenStore: { enabled: false } });
      },
    );

    test('is derived from the same parameters as the app settings (audiences, CALLER_POLICY, tenants)', () => {
      const parameters = {
        ...build.sampleParameters,
        callerAudiences: 'api://entra-token-broker, 77777777-7777-7777-7777-777777777777,',
        callerPolicy: { 'aaaaaaaa-0000-0000-0000-000000000001': ['s'], 'aaaaaaaa-0000-0000-0000-000000000002': [] },
      };
      const auth = authSettings(build, parameters).identityProviders.azureActiveDirectory;
      const settings = appSettings(build, parameters);
      expect(settings.get('CALLER_AUDIENCES')).toBe(parameters.callerAudiences);
      expect(auth.validation.allowedAudiences).toEqual([
        'api://entra-token-broker',
        '77777777-7777-7777-7777-777777777777',
      ]);
      // The broker API's app ID among the audiences is Easy Auth's client ID.
      expect(auth.registration.clientId).toBe('77777777-7777-7777-7777-777777777777');
      const callers = Object.keys(JSON.parse(str(settings.get('CALLER_POLICY'))) as object);
      expect(callers).toEqual(Object.keys(parameters.callerPolicy));
      expect(auth.validation.defaultAuthorizationPolicy.allowedApplications).toEqual(callers);
      expect(auth.validation.jwtClaimChecks.allowedClientApplications).toEqual(callers);
      // CALLER_TENANTS empty: the broker's tenant only, through the issuer.
      expect(settings.get('CALLER_TENANTS')).toBe('');
      expect(auth.registration.openIdIssuer).toBe(
        `https://login.microsoftonline.com/${str(settings.get('ENTRA_TENANT_ID'))}/v2.0`,
      );
    });

    test('one caller tenant is the issuer; several leave the tenant check to the broker', () => {
      const tenantA = 'aaaaaaaa-1111-1111-1111-111111111111';
      const one = authSettings(build, { ...build.sampleParameters, callerTenants: ` ${tenantA} ` });
      expect(one.identityProviders.azureActiveDirectory.registration.openIdIssuer).toBe(
        `https://login.microsoftonline.com/${tenantA}/v2.0`,
      );
      const several = authSettings(build, {
        ...build.sampleParameters,
        callerTenants: `${tenantA},bbbbbbbb-2222-2222-2222-222222222222`,
      });
      expect(several.identityProviders.azureActiveDirectory.registration.openIdIssuer).toBe(
        'https://login.microsoftonline.com/common/v2.0',
      );
    });

    test('an empty CALLER_POLICY lets no client application through Easy Auth either', () => {
      const auth = authSettings(build, { ...build.sampleParameters, callerPolicy: {} });
      expect(
        auth.identityProviders.azureActiveDirectory.validation.defaultAuthorizationPolicy.allowedApplications,
      ).toEqual([]);
    });

    test('easyAuthEnabled=false turns the platform check off (for apps fronted otherwise)', () => {
      expect(obj(build.main.parameters.easyAuthEnabled).defaultValue).toBe(true);
      expect(authSettings(build, { ...build.sampleParameters, easyAuthEnabled: false }).platform.enabled).toBe(false);
    });
  });

  describe('secrets and limits in the app settings', () => {
    test('ALERT_WEBHOOK_URL is a Key Vault reference, never the URL', () => {
      const key = 'webhook-key-that-must-not-leak';
      const parameters = { ...build.sampleParameters, alertWebhookUrl: `https://hooks.example.com/a?code=${key}` };
      for (const module of deployedModules(build.main, parameters).filter((m) => m.name !== 'alertWebhookSecret')) {
        expect(JSON.stringify(module.scope.parameters)).not.toContain(key);
      }
      const secretModule = deployedModules(build.main, parameters).find((m) => m.name === 'alertWebhookSecret');
      expect(secretModule?.scope.parameters.value).toContain(key);
      expect(str(obj(secretModule!.template.outputs.appSettingValue).value)).toMatch(
        /^\[format\('@Microsoft\.KeyVault\(SecretUri=\{0\}\)', reference\(resourceId\('Microsoft\.KeyVault\/vaults\/secrets', .*\)\.secretUri\)\]$/,
      );
      expect(appSettings(build, parameters).get('ALERT_WEBHOOK_URL')).toBe('<alertWebhookSecret.appSettingValue>');
      // Without a webhook: no secret, an empty setting.
      expect(deployedModules(build.main, build.sampleParameters).map((m) => m.name)).not.toContain(
        'alertWebhookSecret',
      );
      expect(appSettings(build, build.sampleParameters).get('ALERT_WEBHOOK_URL')).toBe('');
    });

    test('the Functions host refuses bodies much larger than the broker reads (docs/openapi.yaml)', () => {
      const openapi = readFileSync(path.join(repoRoot, 'docs/openapi.yaml'), 'utf8');
      const brokerLimit = Number(/Bodies over (\d+) bytes get 413/.exec(openapi)?.[1]);
      expect(brokerLimit).toBeGreaterThan(0);
      const hostLimit = Number(appSettings(build, build.sampleParameters).get('FUNCTIONS_REQUEST_BODY_SIZE_LIMIT'));
      expect(hostLimit).toBeGreaterThanOrEqual(brokerLimit);
      expect(hostLimit).toBeLessThanOrEqual(16 * 1024);
    });
  });

  describe('diagnostics to Log Analytics', () => {
    test.each(parameterSets)('%s: Function App, storage account and blob service, Key Vault', (_, parameters) => {
      const settings = deployedResources(build.main, parameters()).filter(
        (d) => d.resource.type === 'Microsoft.Insights/diagnosticSettings',
      );
      const byScope = new Map(
        settings.map((d) => [
          str(evaluateIn(d, d.resource.scope)).replace(/\/[^/]*$/, ''),
          evaluateIn(d, d.resource.properties) as { workspaceId: string; logs?: { categoryGroup: string }[] },
        ]),
      );
      expect([...byScope.keys()].sort()).toEqual(
        [
          '/providers/Microsoft.KeyVault/vaults',
          '/providers/Microsoft.Storage/storageAccounts',
          '/providers/Microsoft.Storage/storageAccounts/<storage.name>/blobServices',
          '/providers/Microsoft.Web/sites',
        ].sort(),
      );
      for (const [scope, properties] of byScope) {
        expect([scope, properties.workspaceId]).toEqual([scope, expect.stringMatching(/^<\w+\.logAnalyticsId>$/)]);
      }
      expect(byScope.get('/providers/Microsoft.Web/sites')?.logs).toEqual([
        { categoryGroup: 'allLogs', enabled: true },
      ]);
      expect(byScope.get('/providers/Microsoft.Storage/storageAccounts/<storage.name>/blobServices')?.logs).toEqual([
        { categoryGroup: 'allLogs', enabled: true },
      ]);
    });
  });
});
