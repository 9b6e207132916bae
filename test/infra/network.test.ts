/**
 * The network side of the deployment, on the compiled template: public by default (so that `azd up`
 * from a laptop works, Key Vault and storage then rely on Entra authentication and RBAC alone), and
 * with NETWORK_ISOLATION=true a private network: VNet integration, private endpoints and private DNS
 * for Key Vault and blob storage, no public access to either. Inbound access restrictions by IP
 * range or service tag. docs/security.md describes both modes.
 */
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
  resourceList,
  str,
} from './armTemplate';

type Properties = Record<string, ArmValue> & {
  publicNetworkAccess?: string;
  networkAcls?: { defaultAction: string; bypass: string };
};

function deployedOfType(build: InfraBuild, parameters: Record<string, ArmValue>, type: string): DeployedResource[] {
  return deployedResources(build.main, parameters).filter((d) => d.resource.type === type);
}

function propertiesOf(build: InfraBuild, parameters: Record<string, ArmValue>, type: string): Properties {
  const found = deployedOfType(build, parameters, type);
  expect(found).toHaveLength(1);
  return evaluateIn(found[0]!, found[0]!.resource.properties) as Properties;
}

const NETWORK_MODULES = ['network', 'keyVaultEndpoint', 'blobEndpoint'];

describeWithBicep('infra: network', () => {
  let build: InfraBuild;

  beforeAll(() => {
    build = buildInfra();
  }, BUILD_TIMEOUT_MS);

  describe('default (networkIsolation=false): public endpoints, said plainly', () => {
    test('the parameter is off by default and main.bicepparam reads NETWORK_ISOLATION', () => {
      expect(obj(build.main.parameters.networkIsolation).defaultValue).toBe(false);
      expect(build.sampleParameters.networkIsolation).toBe(false);
      expect(build.isolatedParameters.networkIsolation).toBe(true);
    });

    test('no virtual network, no private endpoint, no VNet integration', () => {
      const modules = deployedModules(build.main, build.sampleParameters).map((m) => m.name);
      for (const name of NETWORK_MODULES) expect(modules).not.toContain(name);
      expect(propertiesOf(build, build.sampleParameters, 'Microsoft.Web/sites').virtualNetworkSubnetId).toBeNull();
    });

    test('Key Vault and storage accept public traffic (Entra auth and RBAC still apply)', () => {
      const vault = propertiesOf(build, build.sampleParameters, 'Microsoft.KeyVault/vaults');
      expect(vault.publicNetworkAccess).toBe('Enabled');
      expect(vault.networkAcls).toEqual({ defaultAction: 'Allow', bypass: 'AzureServices' });
      const storage = propertiesOf(build, build.sampleParameters, 'Microsoft.Storage/storageAccounts');
      expect(storage.publicNetworkAccess).toBe('Enabled');
      expect(storage.allowSharedKeyAccess).toBe(false);
    });
  });

  describe('networkIsolation=true', () => {
    test('no public network access to Key Vault or storage, not even for trusted services', () => {
      const vault = propertiesOf(build, build.isolatedParameters, 'Microsoft.KeyVault/vaults');
      expect(vault.publicNetworkAccess).toBe('Disabled');
      expect(vault.networkAcls).toEqual({ defaultAction: 'Deny', bypass: 'None' });
      const storage = propertiesOf(build, build.isolatedParameters, 'Microsoft.Storage/storageAccounts');
      expect(storage.publicNetworkAccess).toBe('Disabled');
      expect(storage.networkAcls).toEqual({ defaultAction: 'Deny', bypass: 'None' });
    });

    test('a virtual network with a subnet delegated to Flex Consumption and one for endpoints', () => {
      const vnet = propertiesOf(build, build.isolatedParameters, 'Microsoft.Network/virtualNetworks') as {
        addressSpace: { addressPrefixes: string[] };
        subnets: { name: string; properties: { addressPrefix: string; delegations?: ArmValue[] } }[];
      };
      expect(vnet.addressSpace.addressPrefixes).toEqual([obj(build.main.parameters.vnetAddressPrefix).defaultValue]);
      const app = vnet.subnets.find((s) => s.name === 'app');
      expect(app?.properties.delegations).toEqual([
        { name: 'flex-consumption', properties: { serviceName: 'Microsoft.App/environments' } },
      ]);
      expect(vnet.subnets.find((s) => s.name === 'private-endpoints')).toBeDefined();
    });

    test('all outbound traffic of the app goes through the VNet (integration with the app subnet)', () => {
      const site = propertiesOf(build, build.isolatedParameters, 'Microsoft.Web/sites');
      expect(site.virtualNetworkSubnetId).toBe('<network.appSubnetId>');
      const network = resourceList(build.main).find((r) => r.name === 'network')!;
      const template = obj(obj(network.properties).template);
      expect(str(obj(obj(template.outputs).appSubnetId).value)).toContain("'app')");
    });

    test('private endpoints for the vault and for blob storage, each in its private DNS zone', () => {
      const modules = deployedModules(build.main, build.isolatedParameters);
      const names = modules.map((m) => m.name);
      for (const name of NETWORK_MODULES) expect(names).toContain(name);

      const zones = modules.find((m) => m.name === 'network')!.scope.parameters.privateDnsZoneNames;
      expect(zones).toEqual(['privatelink.vaultcore.azure.net', 'privatelink.blob.core.windows.net']);
      const zoneResources = deployedOfType(build, build.isolatedParameters, 'Microsoft.Network/privateDnsZones');
      expect(zoneResources).toHaveLength(2);
      expect(
        deployedOfType(build, build.isolatedParameters, 'Microsoft.Network/privateDnsZones/virtualNetworkLinks'),
      ).toHaveLength(2);

      const endpoints = resourceList(build.main).filter(
        (r) => r.name === 'keyVaultEndpoint' || r.name === 'blobEndpoint',
      );
      const expected: Record<string, [string, string, number]> = {
        keyVaultEndpoint: ['vault', 'keyVault', 0],
        blobEndpoint: ['blob', 'storage', 1],
      };
      for (const endpoint of endpoints) {
        const [groupId, target, zoneIndex] = expected[str(endpoint.name)]!;
        const module = modules.find((m) => m.name === endpoint.name)!;
        expect(module.scope.parameters.groupId).toBe(groupId);
        expect(module.scope.parameters.targetId).toBe(`<${target}.id>`);
        expect(module.scope.parameters.privateDnsZoneId).toBe(`<network.privateDnsZoneIds[${zoneIndex}]>`);
        expect(module.scope.parameters.subnetId).toBe('<network.endpointSubnetId>');
      }
      const endpointResources = deployedOfType(build, build.isolatedParameters, 'Microsoft.Network/privateEndpoints');
      expect(endpointResources).toHaveLength(2);
      expect(
        deployedOfType(build, build.isolatedParameters, 'Microsoft.Network/privateEndpoints/privateDnsZoneGroups'),
      ).toHaveLength(2);
    });
  });

  describe('inbound access restrictions', () => {
    test('none by default: anyone may call, Easy Auth and the broker check the token', () => {
      const siteConfig = propertiesOf(build, build.sampleParameters, 'Microsoft.Web/sites').siteConfig as Properties;
      expect(siteConfig.ipSecurityRestrictions).toEqual([]);
      expect(siteConfig.ipSecurityRestrictionsDefaultAction).toBe('Allow');
    });

    test('IP ranges and service tags become allow rules, and everything else is denied', () => {
      for (const parameters of [build.sampleParameters, build.isolatedParameters]) {
        const siteConfig = propertiesOf(
          build,
          {
            ...parameters,
            inboundAllowedIpRanges: ['203.0.113.0/24', '2001:db8::/48'],
            inboundAllowedServiceTags: ['ApiManagement'],
          },
          'Microsoft.Web/sites',
        ).siteConfig as Properties;
        expect(siteConfig.ipSecurityRestrictionsDefaultAction).toBe('Deny');
        expect(siteConfig.ipSecurityRestrictions).toEqual([
          { name: 'allow-ip-0', action: 'Allow', priority: 100, ipAddress: '203.0.113.0/24', tag: 'Default' },
          { name: 'allow-ip-1', action: 'Allow', priority: 101, ipAddress: '2001:db8::/48', tag: 'Default' },
          {
            name: 'allow-apimanagement',
            action: 'Allow',
            priority: 500,
            ipAddress: 'ApiManagement',
            tag: 'ServiceTag',
          },
        ]);
      }
    });
  });
});
