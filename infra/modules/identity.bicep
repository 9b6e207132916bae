// The broker's user-assigned managed identity: it reads the client credential from Key Vault, runs
// the Functions host (storage, deployment package, telemetry) and, in `federated` mode, is the
// credential itself (its token is the client assertion of the broker's app registration).

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
