// The vault that holds the broker's client credential, and who may read it.
//
// What the broker reads, by credential kind (credentialSource.ts), and the narrowest role:
//   secret      -> the secret's value and its versions' metadata:        Key Vault Secrets User
//   certificate -> the certificate's properties and versions, and its
//                  backing secret (same name; holds the private key):    Key Vault Certificate User
//   federated   -> nothing: no credential is stored; a managed identity is the credential.
// Scope (docs/security.md, "Least privilege"):
//   ARM can scope a role assignment only to an object that exists. On the first deployment the
//   credential does not exist yet (it is stored afterwards), so the role is granted on this vault,
//   which is created for the broker alone. Once it is stored, deploy again with
//   credentialExists=true and the template grants nothing vault-wide any more:
//   secret: the role is granted on that one secret;
//   certificate: Bicep has no resource type for a Key Vault certificate, so the two narrow
//     assignments (on the certificate and on its secret) are made once with the CLI, as
//     docs/security.md shows.
//   In both cases the first deployment's vault-wide assignment stays until it is deleted
//   (incremental deployments never delete): output BROKER_VAULT_ROLE_ASSIGNMENT_ID names it.
// Network: with networkIsolation the vault has no public endpoint at all (private endpoint only);
// without it the vault is reachable from the internet (defaultAction Allow), protected by Entra
// authentication and RBAC alone.

@description('Key Vault name (3-24 characters).')
@minLength(3)
@maxLength(24)
param name string

@description('Azure region.')
param location string

@description('Tags for every resource.')
param tags object

@description('Entra tenant of the vault (the tenant of the subscription).')
param tenantId string

@description('Name of the Key Vault secret or certificate that holds the broker client credential.')
param credentialName string

@description('secret, certificate or federated (contract: CLIENT_CREDENTIAL_KIND).')
@allowed([
  'secret'
  'certificate'
  'federated'
])
param credentialKind string

@description('True once the credential exists in the vault: the broker role is then scoped to it alone.')
param credentialExists bool

@description('Principal ID of the broker identity.')
param principalId string

@description('Name of the broker identity (seeds role assignment names).')
param identityName string

@description('Object ID of a user or group that manages the credential (Secrets and Certificates Officer); empty for none.')
param adminPrincipalId string

@description('Type of adminPrincipalId.')
@allowed([
  'User'
  'Group'
  'ServicePrincipal'
])
param adminPrincipalType string

@description('True: no public network access; reached through a private endpoint only.')
param networkIsolation bool

@description('Log Analytics workspace that receives the vault audit logs.')
param logAnalyticsId string

@description('Days a deleted vault or object can be recovered (7-90).')
@minValue(7)
@maxValue(90)
param softDeleteRetentionInDays int

// Built-in roles.
var keyVaultSecretsUserRoleId = '4633458b-17de-408a-b874-0445c86b69e6'
var keyVaultCertificateUserRoleId = 'db79e9a7-68ee-4b58-9aeb-b90e7c24fcba'
var keyVaultSecretsOfficerRoleId = 'b86a8fe4-44ce-4948-aee5-eccb2c155cd7'
var keyVaultCertificatesOfficerRoleId = 'a4417e6f-fecd-4de8-b567-7b0420556985'

var brokerOnSecretOnly = credentialKind == 'secret' && credentialExists
var brokerOnWholeVault = !credentialExists && (credentialKind == 'certificate' || credentialKind == 'secret')
var brokerVaultRoleId = credentialKind == 'certificate' ? keyVaultCertificateUserRoleId : keyVaultSecretsUserRoleId
var adminRoleIds = [
  keyVaultSecretsOfficerRoleId
  keyVaultCertificatesOfficerRoleId
]

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' = {
  name: name
  location: location
  tags: tags
  properties: {
    tenantId: tenantId
    sku: {
      family: 'A'
      name: 'standard'
    }
    enableRbacAuthorization: true
    enableSoftDelete: true
    softDeleteRetentionInDays: softDeleteRetentionInDays
    enablePurgeProtection: true
    enabledForDeployment: false
    enabledForDiskEncryption: false
    enabledForTemplateDeployment: false
    publicNetworkAccess: networkIsolation ? 'Disabled' : 'Enabled'
    networkAcls: {
      // Isolated: not even "trusted Azure services"; nothing the broker uses needs that door.
      bypass: networkIsolation ? 'None' : 'AzureServices'
      defaultAction: networkIsolation ? 'Deny' : 'Allow'
    }
  }
}

resource diagnostics 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = {
  name: 'to-log-analytics'
  scope: vault
  properties: {
    workspaceId: logAnalyticsId
    // allLogs: every data-plane access (AuditEvent) plus policy evaluations.
    logs: [
      {
        categoryGroup: 'allLogs'
        enabled: true
      }
    ]
    metrics: [
      {
        category: 'AllMetrics'
        enabled: true
      }
    ]
  }
}

// The secret holding the client secret; only referenced once it exists.
resource credentialSecret 'Microsoft.KeyVault/vaults/secrets@2023-07-01' existing = {
  parent: vault
  name: credentialName
}

resource brokerOnCredential 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (brokerOnSecretOnly) {
  name: guid(credentialSecret.id, identityName, keyVaultSecretsUserRoleId)
  scope: credentialSecret
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', keyVaultSecretsUserRoleId)
    principalId: principalId
    principalType: 'ServicePrincipal'
  }
}

resource brokerOnVault 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (brokerOnWholeVault) {
  name: guid(vault.id, identityName, brokerVaultRoleId)
  scope: vault
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', brokerVaultRoleId)
    principalId: principalId
    principalType: 'ServicePrincipal'
  }
}

resource adminOnVault 'Microsoft.Authorization/roleAssignments@2022-04-01' = [
  for roleId in adminRoleIds: if (!empty(adminPrincipalId)) {
    name: guid(vault.id, adminPrincipalId, roleId)
    scope: vault
    properties: {
      roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleId)
      principalId: adminPrincipalId
      principalType: adminPrincipalType
    }
  }
]

output id string = vault.id
output name string = vault.name
output uri string = vault.properties.vaultUri
// The first deployment's vault-wide assignment, whether this deployment grants it or not: the
// operator deletes it by this ID once the credential exists (docs/security.md). Empty in federated mode.
output brokerVaultRoleAssignmentId string = credentialKind == 'federated'
  ? ''
  : extensionResourceId(
      vault.id,
      'Microsoft.Authorization/roleAssignments',
      guid(vault.id, identityName, brokerVaultRoleId)
    )
