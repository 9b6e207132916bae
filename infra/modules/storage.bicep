// Storage for the Functions host (AzureWebJobsStorage) and the Flex Consumption deployment
// package. No shared keys: the host and the deployment both use managed identities.
//
// Who may touch which container (docs/security.md, "Least privilege"):
//   azure-webjobs-hosts, azure-webjobs-secrets  the runtime identity (the host's locks, timer
//       schedule status, host keys): Storage Blob Data Owner, the role Microsoft documents for an
//       identity-based AzureWebJobsStorage, on these two containers only;
//   the deployment container  the deployment identity: Storage Blob Data Contributor (Flex
//       Consumption writes the package there on deploy and reads it on start). The runtime
//       identity has no role on it, so a stolen runtime token cannot replace the broker's code.
// The host uses blob storage only (HTTP and timer triggers): no queue or table roles.

@description('Storage account name (3-24 lowercase letters and digits).')
@minLength(3)
@maxLength(24)
param name string

@description('Azure region.')
param location string

@description('Tags for the account.')
param tags object

@description('Blob container that holds the deployment package.')
param deploymentContainerName string

@description('Principal ID of the runtime identity (the host\'s own containers).')
param runtimePrincipalId string

@description('Name of the runtime identity (seeds role assignment names).')
param runtimeIdentityName string

@description('Principal ID of the deployment identity (the deployment container).')
param deploymentPrincipalId string

@description('Name of the deployment identity (seeds the role assignment name).')
param deploymentIdentityName string

@description('True: no public network access; the host reaches blob storage through a private endpoint.')
param networkIsolation bool

@description('Log Analytics workspace that receives the storage logs and metrics.')
param logAnalyticsId string

// Built-in roles.
var storageBlobDataOwnerRoleId = 'b7e6dc6d-f1e8-4753-8033-0f276bb0955b'
var storageBlobDataContributorRoleId = 'ba92f5b4-2d11-453d-a403-e96b0029c9fe'

// The containers the Functions host creates for itself; created here so that roles can be scoped to them.
var hostContainerNames = [
  'azure-webjobs-hosts'
  'azure-webjobs-secrets'
]

resource storage 'Microsoft.Storage/storageAccounts@2023-05-01' = {
  name: name
  location: location
  tags: tags
  kind: 'StorageV2'
  sku: {
    name: 'Standard_LRS'
  }
  properties: {
    accessTier: 'Hot'
    allowSharedKeyAccess: false
    defaultToOAuthAuthentication: true
    allowBlobPublicAccess: false
    allowCrossTenantReplication: false
    minimumTlsVersion: 'TLS1_2'
    supportsHttpsTrafficOnly: true
    publicNetworkAccess: networkIsolation ? 'Disabled' : 'Enabled'
    // Isolated: nothing but the private endpoint, not even "trusted Azure services".
    networkAcls: networkIsolation
      ? {
          defaultAction: 'Deny'
          bypass: 'None'
        }
      : {
          defaultAction: 'Allow'
          bypass: 'AzureServices'
        }
  }
}

resource blobService 'Microsoft.Storage/storageAccounts/blobServices@2023-05-01' = {
  parent: storage
  name: 'default'
}

resource deploymentContainer 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' = {
  parent: blobService
  name: deploymentContainerName
  properties: {
    publicAccess: 'None'
  }
}

resource hostContainers 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' = [
  for containerName in hostContainerNames: {
    parent: blobService
    name: containerName
    properties: {
      publicAccess: 'None'
    }
  }
]

resource runtimeOnHostContainers 'Microsoft.Authorization/roleAssignments@2022-04-01' = [
  for (containerName, index) in hostContainerNames: {
    name: guid(hostContainers[index].id, runtimeIdentityName, storageBlobDataOwnerRoleId)
    scope: hostContainers[index]
    properties: {
      roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', storageBlobDataOwnerRoleId)
      principalId: runtimePrincipalId
      principalType: 'ServicePrincipal'
    }
  }
]

resource deploymentOnPackage 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(deploymentContainer.id, deploymentIdentityName, storageBlobDataContributorRoleId)
  scope: deploymentContainer
  properties: {
    roleDefinitionId: subscriptionResourceId(
      'Microsoft.Authorization/roleDefinitions',
      storageBlobDataContributorRoleId
    )
    principalId: deploymentPrincipalId
    principalType: 'ServicePrincipal'
  }
}

// Account metrics, and every blob read, write and delete (who replaced the package, who read keys).
resource accountDiagnostics 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = {
  name: 'to-log-analytics'
  scope: storage
  properties: {
    workspaceId: logAnalyticsId
    metrics: [
      {
        category: 'Transaction'
        enabled: true
      }
    ]
  }
}

resource blobDiagnostics 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = {
  name: 'to-log-analytics'
  scope: blobService
  properties: {
    workspaceId: logAnalyticsId
    logs: [
      {
        categoryGroup: 'allLogs'
        enabled: true
      }
    ]
    metrics: [
      {
        category: 'Transaction'
        enabled: true
      }
    ]
  }
}

output id string = storage.id
output name string = storage.name
output blobEndpoint string = storage.properties.primaryEndpoints.blob
output deploymentContainerUrl string = '${storage.properties.primaryEndpoints.blob}${deploymentContainer.name}'
