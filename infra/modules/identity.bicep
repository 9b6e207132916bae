// One user-assigned managed identity. main.bicep makes three, each holding only what its job needs
// (docs/security.md, "Least privilege"):
//   runtime    serves traffic: host storage leases, telemetry, reads the client credential;
//   deployment reads and writes the deployment package, nothing else;
//   federated  in `federated` mode, the client assertion of the broker's app registration; no roles.

@description('Name of the user-assigned managed identity.')
param name string

@description('Azure region.')
param location string

@description('Tags for the identity.')
param tags object

resource identity 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' = {
  name: name
  location: location
  tags: tags
}

output id string = identity.id
output name string = identity.name
output clientId string = identity.properties.clientId
output principalId string = identity.properties.principalId
