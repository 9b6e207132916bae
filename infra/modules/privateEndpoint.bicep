// A private endpoint for one sub-resource (group) of a Key Vault or storage account, registered in
// the private DNS zone that serves that group's host names.

@description('Private endpoint name.')
param name string

@description('Azure region.')
param location string

@description('Tags for the endpoint.')
param tags object

@description('Subnet that holds the endpoint.')
param subnetId string

@description('Resource ID of the vault or storage account.')
param targetId string

@description('Sub-resource of the target: vault, blob, ...')
param groupId string

@description('Private DNS zone of that sub-resource (e.g. privatelink.blob.core.windows.net).')
param privateDnsZoneId string

resource endpoint 'Microsoft.Network/privateEndpoints@2024-05-01' = {
  name: name
  location: location
  tags: tags
  properties: {
    subnet: {
      id: subnetId
    }
    privateLinkServiceConnections: [
      {
        name: name
        properties: {
          privateLinkServiceId: targetId
          groupIds: [
            groupId
          ]
        }
      }
    ]
  }
}

resource dnsGroup 'Microsoft.Network/privateEndpoints/privateDnsZoneGroups@2024-05-01' = {
  parent: endpoint
  name: 'default'
  properties: {
    privateDnsZoneConfigs: [
      {
        name: groupId
        properties: {
          privateDnsZoneId: privateDnsZoneId
        }
      }
    ]
  }
}
