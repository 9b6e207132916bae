/**
 * the Bicep templates, compiled offline by the official Bicep CLI (infra/scripts/build.sh,
 * which fails on any warning), and checked on the ARM JSON they compile to.
 *
 * Without a Bicep CLI these tests are skipped with a loud warning; with CI=true a missing CLI fails.
 */
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseConfig } from '../../src/contract/config';
import { type ArmValue, evaluateValue } from './armExpression';
import {
  allResources,
  type ArmTemplate,
  BUILD_TIMEOUT_MS,
  bicep,
  describeWithBicep,
  type FoundResource,
  type Json,
  type JsonObject,
  obj,
  infraDir,
  repoRoot,
  resourceList,
  str,
} from './armTemplate';

const ROLE = {
  keyVaultSecretsUser: '4633458b-17de-408a-b874-0445c86b69e6',
  keyVaultCertificateUser: 'db79e9a7-68ee-4b58-9aeb-b90e7c24fcba',
  keyVaultSecretsOfficer: 'b86a8fe4-44ce-4948-aee5-eccb2c155cd7',
  keyVaultCertificatesOfficer: 'a4417e6f-fecd-4de8-b567-7b0420556985',
  storageBlobDataOwner: 'b7e6dc6d-f1e8-4753-8033-0f276bb0955b',
  monitoringMetricsPublisher: '3913510d-42f4-4e42-8a64-420c390055eb',
} as const;

/** The broker's settings, in the order of the README's settings table. */
const CONTRACT_SETTINGS = [
  'ENTRA_TENANT_ID',
  'ENTRA_CLIENT_ID',
  'ENTRA_AUTHORITY_HOST',
  'KEY_VAULT_URL',
  'CLIENT_CREDENTIAL_NAME',
  'CLIENT_CREDENTIAL_KIND',
  'TOKEN_SCOPES',
  'CALLER_AUDIENCES',
  'CALLER_TENANTS',
  'CALLER_REQUIRED_ROLE',
  'CALLER_POLICY',
  'TOKEN_MIN_LIFETIME_SECONDS',
  'CALLER_RATE_LIMIT_PER_MINUTE',
  'WARMUP_SCHEDULE',
  'SECRET_EXPIRY_WARNING_DAYS',
  'ALERT_WEBHOOK_URL',
  'AZURE_CLIENT_ID',
];

const inCi = process.env.CI === 'true';

if (inCi) {
  describe('Bicep CLI', () => {
    test('is available when CI=true (a missing CLI fails CI instead of skipping the infra tests)', () => {
      expect(bicep.why).toBe('');
      expect(bicep.path).toMatch(/bicep$/);
    });
  });
}

/** Replaces `variables('x')` in an ARM expression by the variable's own value, recursively. */
function expandVariables(expression: string, template: ArmTemplate): string {
  let text = expression;
  for (let depth = 0; depth < 10 && /variables\('(\w+)'\)/.test(text); depth++) {
    text = text.replace(/variables\('(\w+)'\)/g, (_, name: string) => JSON.stringify(template.variables[name] ?? null));
  }
  return text;
}

const GUID_IN_TEXT = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/g;

function roleIdsOf(found: FoundResource): string[] {
  const expression = str(obj(found.resource.properties).roleDefinitionId);
  return [...new Set(expandVariables(expression, found.template).match(GUID_IN_TEXT) ?? [])].sort();
}

function listFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const full = path.join(dir, name);
    if (name === '.bicep' || name === 'obj' || name === 'bin') return [];
    return statSync(full).isDirectory() ? listFiles(full) : [full];
  });
}

function runBuild(infra: string, outDir: string) {
  return spawnSync('bash', [path.join(infra, 'scripts/build.sh')], {
    cwd: repoRoot,
    encoding: 'utf8',
    env: { ...process.env, BICEP_PATH: bicep.path, INFRA_OUT_DIR: outDir },
    timeout: 300_000,
  });
}

// ---------------------------------------------------------------------------------------------
// The tests
// ---------------------------------------------------------------------------------------------

describeWithBicep('infra: compiled ARM template ', () => {
  let outDir: string;
  let main: ArmTemplate;
  let sampleParameters: JsonObject;
  let resources: FoundResource[];

  const ofType = (type: string) => resources.filter((r) => r.resource.type === type);
  const one = (type: string) => {
    const matches = ofType(type);
    expect(matches).toHaveLength(1);
    return matches[0]!;
  };
  const props = (found: FoundResource) => obj(found.resource.properties);

  beforeAll(() => {
    outDir = mkdtempSync(path.join(tmpdir(), 'infra-build-'));
    const build = runBuild(infraDir, outDir);
    if (build.status !== 0) {
      throw new Error(`npm run infra:build failed (exit ${build.status}):\n${build.stdout}\n${build.stderr}`);
    }
    main = JSON.parse(readFileSync(path.join(outDir, 'main.json'), 'utf8')) as ArmTemplate;
    sampleParameters = obj(
      (JSON.parse(readFileSync(path.join(outDir, 'main.parameters.json'), 'utf8')) as JsonObject).parameters,
    );
    resources = allResources(main);
  }, BUILD_TIMEOUT_MS);

  afterAll(() => {
    if (outDir) rmSync(outDir, { recursive: true, force: true });
  });

  describe('the build', () => {
    test('was made by the CLI found, and get-bicep.sh pins a version', () => {
      const csproj = readFileSync(path.join(infraDir, 'bicep-cli/bicep-cli.csproj'), 'utf8');
      const pinned = /Include="Azure\.Bicep\.CommandLine\.linux-x64" Version="\[([0-9.]+)\]"/.exec(csproj)?.[1];
      expect(pinned).toMatch(/^\d+\.\d+\.\d+$/);
      const cli = spawnSync(bicep.path!, ['--version'], { encoding: 'utf8' });
      const cliVersion = /Bicep CLI version (\d+\.\d+\.\d+)/.exec(cli.stdout)?.[1];
      const generator = str(obj(obj(main.metadata)._generator).version);
      expect(generator.startsWith(`${cliVersion}.`)).toBe(true);
      // Another bicep (PATH, BICEP_PATH) may differ from the pinned one; say so rather than fail.
      if (cliVersion !== pinned)
        console.warn(`infra tests: built with Bicep ${cliVersion}, the pinned one is ${pinned}`);
    });

    test(
      'fails on a compiler warning, not only on errors (regression: bicep exits 0 on warnings)',
      () => {
        const copy = mkdtempSync(path.join(tmpdir(), 'infra-copy-'));
        try {
          cpSync(infraDir, copy, { recursive: true, filter: (source) => !source.includes(`${path.sep}.bicep`) });
          // BCP081 (no types for this API version) is a warning: the template would still compile.
          const identityModule = readFileSync(path.join(copy, 'modules/identity.bicep'), 'utf8');
          expect(identityModule).toContain('userAssignedIdentities@2023-01-31');
          writeFileSync(
            path.join(copy, 'modules/identity.bicep'),
            identityModule.replace('userAssignedIdentities@2023-01-31', 'userAssignedIdentities@2099-01-01'),
          );
          const build = runBuild(copy, path.join(copy, 'out'));
          expect(build.status).not.toBe(0);
          expect(build.stderr).toContain('BCP081');
        } finally {
          rmSync(copy, { recursive: true, force: true });
        }
      },
      BUILD_TIMEOUT_MS,
    );
  });

  describe('no registry', () => {
    test('no file in infra/ references a module registry or template spec', () => {
      const offenders = listFiles(infraDir)
        .filter((file) => /\.(bicep|bicepparam|json)$/.test(file))
        .filter((file) => /['"](br[:/]|ts[:/])/.test(readFileSync(file, 'utf8')))
        .map((file) => path.relative(repoRoot, file));
      expect(offenders).toEqual([]);
    });

    test('every module is inlined (no templateLink, no registry reference)', () => {
      const text = JSON.stringify(main);
      expect(text).not.toContain('templateLink');
      expect(text).not.toMatch(/\bbr(\/public)?:/);
    });
  });

  describe('storage for the Functions host', () => {
    test('has no shared keys, TLS 1.2, no public blob access, HTTPS only', () => {
      const storage = props(one('Microsoft.Storage/storageAccounts'));
      expect(storage.allowSharedKeyAccess).toBe(false);
      expect(storage.minimumTlsVersion).toBe('TLS1_2');
      expect(storage.allowBlobPublicAccess).toBe(false);
      expect(storage.supportsHttpsTrafficOnly).toBe(true);
      expect(storage.defaultToOAuthAuthentication).toBe(true);
    });

    test('has a private deployment container', () => {
      expect(props(one('Microsoft.Storage/storageAccounts/blobServices/containers')).publicAccess).toBe('None');
    });

    test('no key or connection string is read from any resource', () => {
      const text = JSON.stringify(main);
      expect(text).not.toMatch(/list(Keys|Secrets|ConnectionStrings)\(/i);
      expect(text).not.toContain('AccountKey=');
    });
  });

  describe('monitoring', () => {
    test('Log Analytics and Application Insights have local auth disabled', () => {
      expect(obj(props(one('Microsoft.OperationalInsights/workspaces')).features).disableLocalAuth).toBe(true);
      const appInsights = props(one('Microsoft.Insights/components'));
      expect(appInsights.DisableLocalAuth).toBe(true);
      expect(str(appInsights.WorkspaceResourceId)).toContain('Microsoft.OperationalInsights/workspaces');
    });
  });

  describe('the Function App', () => {
    let site: JsonObject;
    let settings: Map<string, string>;

    beforeAll(() => {
      const found = one('Microsoft.Web/sites');
      site = found.resource;
      const appSettings = obj(obj(site.properties).siteConfig).appSettings;
      expect(Array.isArray(appSettings)).toBe(true);
      settings = new Map(
        (appSettings as Json[]).map((entry) => [str(obj(entry).name), JSON.stringify(obj(entry).value)]),
      );
    });

    test('runs on Flex Consumption (FC1) with Node 22 by default', () => {
      const plan = one('Microsoft.Web/serverfarms').resource;
      expect(obj(plan.sku)).toEqual({ tier: 'FlexConsumption', name: 'FC1' });
      const runtime = obj(obj(obj(site.properties).functionAppConfig).runtime);
      expect(runtime.name).toBe('node');
      expect(runtime.version).toBe("[parameters('nodeVersion')]");
      expect(obj(main.parameters.nodeVersion).defaultValue).toBe('22');
      // Supported Node.js versions only: 20 reached end of life in April 2026.
      expect(obj(main.parameters.nodeVersion).allowedValues).toEqual(['22']);
    });

    test('is HTTPS only, TLS 1.2, FTP off, basic publishing credentials off', () => {
      const properties = obj(site.properties);
      expect(properties.httpsOnly).toBe(true);
      const siteConfig = obj(properties.siteConfig);
      expect(siteConfig.minTlsVersion).toBe('1.2');
      expect(siteConfig.ftpsState).toBe('Disabled');
      const policies = ofType('Microsoft.Web/sites/basicPublishingCredentialsPolicies').map((found) => ({
        name: str(found.resource.name),
        allow: props(found).allow,
      }));
      // Names compile to format('{0}/{1}', <site>, 'ftp'): the last argument is the policy.
      expect(policies.map((p) => /'(\w+)'\)\]$/.exec(p.name)?.[1]).sort()).toEqual(['ftp', 'scm']);
      expect(policies.every((p) => p.allow === false)).toBe(true);
    });

    test('runs as the user-assigned identity and deploys through it', () => {
      expect(obj(site.identity).type).toBe('UserAssigned');
      const deployment = obj(obj(obj(obj(site.properties).functionAppConfig).deployment).storage);
      expect(deployment.type).toBe('blobContainer');
      expect(obj(deployment.authentication).type).toBe('UserAssignedIdentity');
      expect(obj(obj(obj(site.properties).functionAppConfig).scaleAndConcurrency).instanceMemoryMB).toBeDefined();
    });

    test('sets every documented setting', () => {
      for (const name of CONTRACT_SETTINGS) expect(settings.has(name) ? name : `missing ${name}`).toBe(name);
    });

    test('sets every setting src/contract/config.ts reads (so a new setting cannot be forgotten here)', () => {
      const source = readFileSync(path.join(repoRoot, 'src/contract/config.ts'), 'utf8');
      const read = [...new Set([...source.matchAll(/'([A-Z][A-Z0-9_]{2,})'/g)].map((m) => m[1]!))];
      expect(read.length).toBeGreaterThanOrEqual(CONTRACT_SETTINGS.length);
      expect(read.filter((name) => !settings.has(name))).toEqual([]);
    });

    test('uses identity-based host storage and telemetry', () => {
      expect(settings.get('AzureWebJobsStorage__credential')).toBe('"managedidentity"');
      expect(settings.get('AzureWebJobsStorage__accountName')).toBeDefined();
      expect(settings.get('AzureWebJobsStorage__clientId')).toMatch(/identityClientId/);
      expect(settings.has('AzureWebJobsStorage')).toBe(false);
      expect(settings.get('APPLICATIONINSIGHTS_AUTHENTICATION_STRING')).toMatch(/ClientId=.*Authorization=AAD/);
      expect(settings.get('AZURE_CLIENT_ID')).toMatch(/identityClientId/);
    });

    test('sets none of the app settings Flex Consumption refuses', () => {
      for (const refused of [
        'FUNCTIONS_WORKER_RUNTIME',
        'FUNCTIONS_EXTENSION_VERSION',
        'WEBSITE_RUN_FROM_PACKAGE',
        'WEBSITE_NODE_DEFAULT_VERSION',
        'WEBSITE_CONTENTAZUREFILECONNECTIONSTRING',
        'WEBSITE_CONTENTSHARE',
      ]) {
        expect(settings.has(refused) ? refused : 'absent').toBe('absent');
      }
    });

    test('with the sample parameters, the settings it sets are ones the broker accepts (parseConfig)', () => {
      // Resolve each broker setting to the main.bicep parameter it comes from, then take that
      // parameter's value from main.bicepparam (compiled against build.sh's sample environment) or
      // its default. Values known only at deployment get realistic stand-ins.
      const moduleDeployment = resourceList(main).find((r) => r.name === 'functionApp');
      const brokerSettings = obj(obj(obj(obj(moduleDeployment).properties).parameters).brokerSettings).value;
      const deployTime: Record<string, string> = {
        '[tenant().tenantId]': '55555555-5555-5555-5555-555555555555',
        '[environment().authentication.loginEndpoint]': 'https://login.microsoftonline.com/',
      };
      const values: Record<string, string> = {
        KEY_VAULT_URL: 'https://kv-broker-abc.vault.azure.net/',
        AZURE_CLIENT_ID: '66666666-6666-6666-6666-666666666666',
        ALERT_WEBHOOK_URL: str(obj(main.parameters.alertWebhookUrl).defaultValue),
      };
      for (const [name, expression] of Object.entries(obj(brokerSettings))) {
        const match = /^\[(string\()?parameters\('(\w+)'\)\)?\]$/.exec(str(expression));
        expect(match ? name : `${name} is not a plain parameter: ${str(expression)}`).toBe(name);
        const parameter = match![2]!;
        const declared = obj(main.parameters[parameter]);
        const sample = sampleParameters[parameter];
        let value: Json = (sample === undefined ? declared.defaultValue : obj(sample).value) ?? null;
        if (typeof value === 'string' && value in deployTime) value = deployTime[value]!;
        values[name] = typeof value === 'string' ? value : JSON.stringify(value);
      }
      expect(Object.keys(values).sort()).toEqual([...CONTRACT_SETTINGS].sort());
      const config = parseConfig(values);
      expect(config.credentialKind).toBe('secret');
      expect(config.callerRequiredRole).toBe('Token.Request');
      expect(config.callerPolicy.size).toBe(1);
      expect(config.managedIdentityClientId).toBe(values.AZURE_CLIENT_ID);
    });
  });

  describe('Key Vault', () => {
    test('uses RBAC, soft delete and purge protection', () => {
      const vault = props(one('Microsoft.KeyVault/vaults'));
      expect(vault.enableRbacAuthorization).toBe(true);
      expect(vault.enableSoftDelete).toBe(true);
      expect(vault.enablePurgeProtection).toBe(true);
    });

    test('sends its logs to Log Analytics', () => {
      const diagnostics = one('Microsoft.Insights/diagnosticSettings');
      expect(str(diagnostics.resource.scope)).toContain('Microsoft.KeyVault/vaults');
      expect(str(props(diagnostics).workspaceId)).toMatch(/logAnalyticsId/);
      const logs = props(diagnostics).logs as Json[];
      expect(logs.map((log) => obj(log).enabled)).toEqual(logs.map(() => true));
      expect(logs.map((log) => obj(log).categoryGroup)).toEqual(['allLogs']);
    });

    /** Role assignments of the keyVault module that deploy for these parameters: role ID and scope. */
    function deployedVaultRoles(parameters: Record<string, ArmValue>): { role: string; scope: string }[] {
      const assignments = ofType('Microsoft.Authorization/roleAssignments').filter(
        (found) => found.module === 'keyVault' && found.resource.copy === undefined,
      );
      expect(assignments.length).toBeGreaterThan(0);
      return assignments
        .map((found) => ({ found, scope: { variables: found.template.variables, parameters } }))
        .filter(({ found, scope }) => evaluateValue(found.resource.condition ?? true, scope) === true)
        .map(({ found, scope }) => {
          expect(props(found).principalType).toBe('ServicePrincipal');
          const roleDefinitionId = str(evaluateValue(props(found).roleDefinitionId!, scope));
          return {
            role: roleDefinitionId.replace(/.*\//, ''),
            scope: str(evaluateValue(found.resource.scope!, scope)),
          };
        });
    }

    const vaultScope = '/providers/Microsoft.KeyVault/vaults/kv-test';
    const moduleParameters = (credentialKind: string, credentialExists: boolean) => ({
      name: 'kv-test',
      credentialName: 'broker-credential',
      credentialKind,
      credentialExists,
      adminPrincipalId: '',
    });

    test.each([
      ['secret', false, [{ role: ROLE.keyVaultSecretsUser, scope: vaultScope }]],
      ['secret', true, [{ role: ROLE.keyVaultSecretsUser, scope: `${vaultScope}/secrets/broker-credential` }]],
      ['certificate', false, [{ role: ROLE.keyVaultCertificateUser, scope: vaultScope }]],
      ['certificate', true, [{ role: ROLE.keyVaultCertificateUser, scope: vaultScope }]],
      ['federated', false, []],
      ['federated', true, []],
    ])('the broker may read only what kind %s needs (credentialExists=%s)', (kind, exists, expected) => {
      expect(deployedVaultRoles(moduleParameters(kind, exists))).toEqual(expected);
    });

    test('main.bicep passes the credential kind and existence through to the vault module', () => {
      const module = obj(obj(resourceList(main).find((r) => r.name === 'keyVault')).properties);
      const parameters = obj(module.parameters);
      expect(obj(parameters.credentialKind).value).toBe("[parameters('clientCredentialKind')]");
      expect(obj(parameters.credentialExists).value).toBe("[parameters('credentialExists')]");
      expect(obj(main.parameters.credentialExists).defaultValue).toBe(false);
    });

    test('the operator (optional) can manage secrets and certificates', () => {
      const admin = ofType('Microsoft.Authorization/roleAssignments').filter((found) =>
        str(props(found).principalId).includes('adminPrincipalId'),
      );
      expect(admin).toHaveLength(1);
      expect(roleIdsOf(admin[0]!)).toEqual([ROLE.keyVaultSecretsOfficer, ROLE.keyVaultCertificatesOfficer].sort());
      expect(str(admin[0]!.resource.condition)).toContain("not(empty(parameters('adminPrincipalId')))");
    });
  });

  describe('role assignments', () => {
    test('Storage Blob Data Owner on the storage account, Monitoring Metrics Publisher on Application Insights', () => {
      const assignments = ofType('Microsoft.Authorization/roleAssignments');
      const storage = assignments.filter((found) => found.module === 'storage');
      expect(storage.map(roleIdsOf)).toEqual([[ROLE.storageBlobDataOwner]]);
      expect(str(storage[0]!.resource.scope)).toContain('Microsoft.Storage/storageAccounts');
      const monitoring = assignments.filter((found) => found.module === 'monitoring');
      expect(monitoring.map(roleIdsOf)).toEqual([[ROLE.monitoringMetricsPublisher]]);
      expect(str(monitoring[0]!.resource.scope)).toContain('Microsoft.Insights/components');
    });

    test('every role assignment is named by guid(...) and scoped to a resource, never the group', () => {
      const assignments = ofType('Microsoft.Authorization/roleAssignments');
      expect(assignments.length).toBeGreaterThanOrEqual(5);
      for (const found of assignments) {
        expect(str(found.resource.name)).toMatch(/^\[guid\(/);
        expect(str(found.resource.scope)).toMatch(/^\[resourceId\('Microsoft\./);
      }
    });
  });

  describe('alerts', () => {
    test('an action group mails the alert address', () => {
      const group = props(one('Microsoft.Insights/actionGroups'));
      expect(JSON.stringify(group.emailReceivers)).toContain("parameters('alertEmail')");
    });

    // The log alert rules on the broker's own alert events: test/infra/alerts.test.ts.

    test('Key Vault near-expiry and expiry events go to the action group through Event Grid', () => {
      const topic = props(one('Microsoft.EventGrid/systemTopics'));
      expect(topic.topicType).toBe('Microsoft.KeyVault.vaults');
      expect(str(topic.source)).toContain('Microsoft.KeyVault/vaults');
      const subscriptions = ofType('Microsoft.EventGrid/systemTopics/eventSubscriptions');
      const toActionGroup = subscriptions.find((found) => !found.resource.condition);
      expect(toActionGroup).toBeDefined();
      const properties = props(toActionGroup!);
      const types = expandVariables(JSON.stringify(obj(properties.filter).includedEventTypes), toActionGroup!.template);
      for (const type of ['Microsoft.KeyVault.SecretNearExpiry', 'Microsoft.KeyVault.SecretExpired']) {
        expect(types).toContain(type);
      }
      const destination = obj(properties.destination);
      expect(destination.endpointType).toBe('MonitorAlert');
      expect(JSON.stringify(obj(destination.properties).actionGroups)).toContain('Microsoft.Insights/actionGroups');
    });
  });

  describe('secrets stay out of parameters and outputs', () => {
    test('no client secret parameter; secure parameters have empty defaults', () => {
      for (const [name, declaration] of Object.entries(main.parameters)) {
        expect(name).not.toMatch(/secret|password|privateKey|assertion/i);
        const { type, defaultValue } = obj(declaration);
        if (str(type).toLowerCase().startsWith('secure')) expect([name, defaultValue]).toEqual([name, '']);
      }
    });

    test('the compiled sample parameters hold no secure value', () => {
      const secure = Object.entries(main.parameters)
        .filter(([, declaration]) => str(obj(declaration).type).toLowerCase().startsWith('secure'))
        .map(([name]) => name);
      expect(secure.length).toBeGreaterThan(0);
      for (const name of secure) expect(sampleParameters[name]).toBeUndefined();
    });

    test('outputs give azd and the docs what they need, and nothing secret', () => {
      for (const name of [
        'AZURE_FUNCTION_APP_NAME',
        'BROKER_TOKEN_URL',
        'BROKER_IDENTITY_CLIENT_ID',
        'BROKER_IDENTITY_PRINCIPAL_ID',
        'AZURE_KEY_VAULT_URL',
        'AZURE_TENANT_ID',
        'FEDERATED_CREDENTIAL_ISSUER',
        'FEDERATED_CREDENTIAL_SUBJECT',
      ]) {
        expect(main.outputs[name] ? name : `missing output ${name}`).toBe(name);
      }
      expect(str(obj(main.outputs.BROKER_TOKEN_URL).value)).toMatch(/^\[format\('https:\/\/\{0\}\/api\/token'/);
      expect(str(obj(main.outputs.FEDERATED_CREDENTIAL_ISSUER).value)).toContain('/v2.0');
      for (const [name, output] of Object.entries(main.outputs)) {
        const { type, value } = obj(output);
        expect([name, str(type).toLowerCase()]).toEqual([name, 'string']);
        expect(str(value)).not.toMatch(/list\w*\(|alertWebhookUrl|vaultEventsWebhookUrl|ConnectionString/i);
      }
    });
  });

  describe('bicepconfig.json and azure.yaml', () => {
    test('the security linter rules are errors', () => {
      const config = JSON.parse(readFileSync(path.join(infraDir, 'bicepconfig.json'), 'utf8')) as JsonObject;
      const rules = obj(obj(obj(config.analyzers).core).rules);
      for (const rule of [
        'outputs-should-not-contain-secrets',
        'secure-parameter-default',
        'use-secure-value-for-secure-inputs',
        'no-hardcoded-env-urls',
        'no-unused-params',
        'no-unused-vars',
        'use-resource-symbol-reference',
        'secure-secrets-in-params',
        'protect-commandtoexecute-secrets',
        'no-hardcoded-location',
      ]) {
        expect([rule, obj(rules[rule]).level]).toEqual([rule, 'error']);
      }
    });

    test('azure.yaml deploys the package (npm run package) as the broker Function App, without a remote build', () => {
      const yaml = readFileSync(path.join(repoRoot, 'azure.yaml'), 'utf8');
      const service = /\n {2}broker:\n((?: {4}.*\n)+)/.exec(yaml)?.[1] ?? '';
      expect(service).toMatch(/^ {4}host: function$/m);
      expect(service).toMatch(/^ {4}language: js$/m);
      expect(service).toMatch(/^ {4}project: \.$/m);
      // azd runs `npm run package` itself and uploads dist/package as it is; nothing is built in Azure.
      expect(service).toMatch(/^ {4}dist: dist\/package$/m);
      expect(service).toMatch(/^ {4}remoteBuild: false$/m);
      // A .funcignore that excludes node_modules would make azd refuse remoteBuild: false.
      expect(existsSync(path.join(repoRoot, '.funcignore'))).toBe(false);
      // azd finds the app by this tag.
      expect(JSON.stringify(main)).toContain("'azd-service-name', 'broker'");
    });
  });
});
