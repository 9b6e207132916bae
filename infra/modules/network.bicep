// The private network of `networkIsolation=true` (docs/security.md, "Network isolation"): a virtual
// network with the subnet the Flex Consumption app integrates with (all its outbound traffic goes
// through it) and a subnet for the private endpoints of Key Vault and host storage, plus the private
// DNS zones that make the vault's and the storage account's usual host names resolve to those
// endpoints inside the network.

@description('Virtual network name.')
param name string

@description('Azure region.')
param location string

@description('Tags for every resource.')
param tags object

@description('Address space of the virtual network (at least a /22: a /23 for the app, a /24 for endpoints).')
param addressPrefix string

@description('Private DNS zone names to create and link to the network, e.g. privatelink.vaultcore.azure.net.')
param privateDnsZoneNames string[]

// Flex Consumption takes one address per instance from its subnet; a /23 leaves room for the
// maximum instance count this template allows by default, with margin.
var appSubnetPrefix = cidrSubnet(addressPrefix, 23, 0)
var endpointSubnetPrefix = cidrSubnet(addressPrefix, 24, 2)

resource vnet 'Microsoft.Network/virtualNetworks@2024-05-01' = {
  name: name
  location: location
  tags: tags
  properties: {
    addressSpace: {
      addressPrefixes: [
        addressPrefix
      ]
    }
    subnets: [
      {
        name: 'app'
        properties: {
          addressPrefix: appSubnetPrefix
          // Flex Consumption integrates only with a subnet delegated to Microsoft.App/environments.
          delegations: [
            {
              name: 'flex-consumption'
              properties: {
                serviceName: 'Microsoft.App/environments'
              }
            }
          ]
        }
      }
      {
        name: 'private-endpoints'
        properties: {
          addressPrefix: endpointSubnetPrefix
          privateEndpointNetworkPolicies: 'Disabled'
        }
      }
    ]
  }
}

resource zones 'Microsoft.Network/privateDnsZones@2024-06-01' = [
  for zoneName in privateDnsZoneNames: {
    name: zoneName
    location: 'global'
    tags: tags
  }
]

resource links 'Microsoft.Network/privateDnsZones/virtualNetworkLinks@2024-06-01' = [
  for (zoneName, index) in privateDnsZoneNames: {
    parent: zones[index]
    name: 'link-${name}'
    location: 'global'
    tags: tags
    properties: {
      virtualNetwork: {
        id: vnet.id
      }
      registrationEnabled: false
    }
  }
]

output appSubnetId string = resourceId('Microsoft.Network/virtualNetworks/subnets', vnet.name, 'app')
output endpointSubnetId string = resourceId('Microsoft.Network/virtualNetworks/subnets', vnet.name, 'private-endpoints')
output privateDnsZoneIds string[] = [for (zoneName, index) in privateDnsZoneNames: zones[index].id]
