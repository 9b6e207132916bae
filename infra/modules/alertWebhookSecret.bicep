// ALERT_WEBHOOK_URL may carry a key in its query string. Instead of a plain app setting (readable by
// anyone who can list the app's settings), it is stored as a Key Vault secret and the app setting is
// a Key Vault reference, resolved by the platform with the runtime identity, which may read this
// one secret.

@description('Key Vault that holds the secret.')
param vaultName string

@description('Secret name.')
param secretName string

@description('The webhook URL.')
@secure()
param value string

@description('Principal ID of the identity that resolves the reference (the runtime identity).')
param readerPrincipalId string

@description('Name of that identity (seeds the role assignment name).')
param readerIdentityName string

var keyVaultSecretsUserRoleId = '4633458b-17de-408a-b874-0445c86b69e6'

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' existing = {
  name: vaultName
}

resource secret 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = {
  parent: vault
  name: secretName
  properties: {
    value: value
    contentType: 'text/uri-list'
  }
}

resource readerOnSecret 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(secret.id, readerIdentityName, keyVaultSecretsUserRoleId)
  scope: secret
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', keyVaultSecretsUserRoleId)
    principalId: readerPrincipalId
    principalType: 'ServicePrincipal'
  }
}

// The value of the app setting: a reference to the latest version, never the URL itself.
output appSettingValue string = '@Microsoft.KeyVault(SecretUri=${secret.properties.secretUri})'
