// entra-token-broker: everything the broker needs in one resource group.
// Deploy with `azd up` (reads main.bicepparam) or
// `az deployment group create -g <rg> -f infra/main.bicep -p infra/main.bicepparam`; see README.md ("Deploying to Azure").
// The client credential itself is never a parameter: it is put in Key Vault after deployment.

targetScope = 'resourceGroup'

// ---------------------------------------------------------------------------------------------
// Naming and placement
// ---------------------------------------------------------------------------------------------

@description('Environment name (azd: AZURE_ENV_NAME); seeds resource names and the azd-env-name tag.')
@minLength(1)
@maxLength(40)
param environmentName string

@description('Azure region of every resource; must offer Flex Consumption.')
param location string = resourceGroup().location

@description('Extra tags for every resource.')
param tags object = {}

// ---------------------------------------------------------------------------------------------
// Broker settings (the settings table in README.md). KEY_VAULT_URL and AZURE_CLIENT_ID come from the resources below.
// ---------------------------------------------------------------------------------------------

@description('ENTRA_TENANT_ID: tenant of the broker app registration.')
param entraTenantId string = tenant().tenantId

@description('ENTRA_CLIENT_ID: application (client) ID of the broker app registration, the client of the third-party API.')
@minLength(36)
@maxLength(36)
param entraClientId string

@description('ENTRA_AUTHORITY_HOST: Entra authority host of this cloud.')
param entraAuthorityHost string = environment().authentication.loginEndpoint

@description('CLIENT_CREDENTIAL_NAME: Key Vault secret (or certificate) name of the client credential.')
@minLength(1)
@maxLength(127)
param clientCredentialName string = 'entra-client-secret'

@description('CLIENT_CREDENTIAL_KIND: secret (a client secret in Key Vault), certificate (a Key Vault certificate) or federated (the managed identity, no stored credential).')
@allowed([
  'secret'
  'certificate'
  'federated'
])
param clientCredentialKind string = 'secret'

@description('secret kind: true once the secret exists in the vault; the broker can then read that one secret only (see modules/keyVault.bicep).')
param credentialExists bool = false

@description('TOKEN_SCOPES: comma-separated scopes the broker serves, the first is the default, e.g. api://<third-party-app-id>/.default.')
@minLength(1)
param tokenScopes string

@description('CALLER_AUDIENCES: comma-separated accepted aud values of caller tokens (the broker API identifier URI and/or its app ID).')
@minLength(1)
param callerAudiences string

@description('CALLER_TENANTS: comma-separated tenant IDs whose callers are accepted; empty: ENTRA_TENANT_ID only.')
param callerTenants string = ''

@description('CALLER_REQUIRED_ROLE: app role a caller token must carry; empty: none.')
param callerRequiredRole string = 'Token.Request'

@description('CALLER_POLICY: caller app ID -> array of scopes it may get. An empty object lets nobody in.')
param callerPolicy object

@description('TOKEN_MIN_LIFETIME_SECONDS: a served token has at least this many seconds left.')
@minValue(0)
@maxValue(3600)
param tokenMinLifetimeSeconds int = 300

@description('CALLER_RATE_LIMIT_PER_MINUTE: requests per minute per caller app.')
@minValue(1)
@maxValue(1000000)
param callerRateLimitPerMinute int = 600

@description('WARMUP_SCHEDULE: NCRONTAB (six fields) of the warm-up timer.')
param warmupSchedule string = '0 */5 * * * *'

@description('SECRET_EXPIRY_WARNING_DAYS: comma-separated alert thresholds, days before the credential expires.')
param expiryWarningDays string = '30,14,7,3,1'

@description('ALERT_WEBHOOK_URL: optional HTTPS endpoint that receives alert JSON (may hold a key, so secure).')
@secure()
param alertWebhookUrl string = ''

// ---------------------------------------------------------------------------------------------
// Operations
// ---------------------------------------------------------------------------------------------

@description('Email address that receives alerts; empty: the action group has no receiver.')
param alertEmail string = ''

@description('Event Grid webhook that also receives Key Vault expiry events (must answer the Event Grid handshake); empty for none.')
@secure()
param vaultEventsWebhookUrl string = ''

@description('Object ID of the user or group that manages the credential in Key Vault (azd: AZURE_PRINCIPAL_ID); empty for none.')
param adminPrincipalId string = ''

@description('Type of adminPrincipalId.')
@allowed([
  'User'
  'Group'
  'ServicePrincipal'
])
param adminPrincipalType string = 'User'

@description('Node.js major version of the Functions runtime: supported versions only (Node.js 20 reached end of life in April 2026).')
@allowed([
  '22'
])
param nodeVersion string = '22'

@description('Most instances the Function App scales out to.')
@minValue(1)
@maxValue(1000)
param maximumInstanceCount int = 40

@description('Memory per instance, MB.')
@allowed([
  512
  2048
  4096
])
param instanceMemoryMB int = 2048

@description('Always-ready instances for HTTP (0: scale to zero, the token cache then starts cold).')
@minValue(0)
@maxValue(20)
param alwaysReadyInstances int = 0

@description('Days Log Analytics keeps data.')
@minValue(30)
@maxValue(730)
param logRetentionInDays int = 30

@description('Days a deleted vault or secret can be recovered (purge protection holds them that long).')
@minValue(7)
@maxValue(90)
param softDeleteRetentionInDays int = 90

var resourceToken = toLower(uniqueString(subscription().id, resourceGroup().id, environmentName))
var allTags = union(tags, { 'azd-env-name': environmentName })
var names = {
  identity: 'id-broker-${resourceToken}'
  logAnalytics: 'log-broker-${resourceToken}'
  appInsights: 'appi-broker-${resourceToken}'
  storage: 'stbroker${resourceToken}'
  keyVault: 'kv-broker-${take(resourceToken, 12)}'
  plan: 'plan-broker-${resourceToken}'
  functionApp: 'func-broker-${resourceToken}'
  actionGroup: 'ag-broker-${resourceToken}'
}
var deploymentContainerName = 'app-package-${take(resourceToken, 20)}'

module identity 'modules/identity.bicep' = {
  name: 'identity'
  params: {
    name: names.identity
    location: location
    tags: allTags
  }
}

module monitoring 'modules/monitoring.bicep' = {
  name: 'monitoring'
  params: {
    logAnalyticsName: names.logAnalytics
    appInsightsName: names.appInsights
    location: location
    tags: allTags
    retentionInDays: logRetentionInDays
    principalId: identity.outputs.principalId
    identityName: names.identity
  }
}

module storage 'modules/storage.bicep' = {
  name: 'storage'
  params: {
    name: names.storage
    location: location
    tags: allTags
    deploymentContainerName: deploymentContainerName
    principalId: identity.outputs.principalId
    identityName: names.identity
  }
}

module keyVault 'modules/keyVault.bicep' = {
  name: 'keyVault'
  params: {
    name: names.keyVault
    location: location
    tags: allTags
    tenantId: subscription().tenantId
    credentialName: clientCredentialName
    credentialKind: clientCredentialKind
    credentialExists: credentialExists
    principalId: identity.outputs.principalId
    identityName: names.identity
    adminPrincipalId: adminPrincipalId
    adminPrincipalType: adminPrincipalType
    logAnalyticsId: monitoring.outputs.logAnalyticsId
    softDeleteRetentionInDays: softDeleteRetentionInDays
  }
}

module functionApp 'modules/functionApp.bicep' = {
  name: 'functionApp'
  params: {
    name: names.functionApp
    planName: names.plan
    location: location
    tags: allTags
    appTags: union(allTags, { 'azd-service-name': 'broker' })
    identityId: identity.outputs.id
    identityClientId: identity.outputs.clientId
    storageAccountName: storage.outputs.name
    deploymentContainerUrl: storage.outputs.deploymentContainerUrl
    appInsightsConnectionString: monitoring.outputs.appInsightsConnectionString
    nodeVersion: nodeVersion
    maximumInstanceCount: maximumInstanceCount
    instanceMemoryMB: instanceMemoryMB
    alwaysReadyInstances: alwaysReadyInstances
    keyVaultUrl: keyVault.outputs.uri
    alertWebhookUrl: alertWebhookUrl
    brokerSettings: {
      ENTRA_TENANT_ID: entraTenantId
      ENTRA_CLIENT_ID: entraClientId
      ENTRA_AUTHORITY_HOST: entraAuthorityHost
      CLIENT_CREDENTIAL_NAME: clientCredentialName
      CLIENT_CREDENTIAL_KIND: clientCredentialKind
      TOKEN_SCOPES: tokenScopes
      CALLER_AUDIENCES: callerAudiences
      CALLER_TENANTS: callerTenants
      CALLER_REQUIRED_ROLE: callerRequiredRole
      CALLER_POLICY: string(callerPolicy)
      TOKEN_MIN_LIFETIME_SECONDS: string(tokenMinLifetimeSeconds)
      CALLER_RATE_LIMIT_PER_MINUTE: string(callerRateLimitPerMinute)
      WARMUP_SCHEDULE: warmupSchedule
      SECRET_EXPIRY_WARNING_DAYS: expiryWarningDays
    }
  }
}

module alerts 'modules/alerts.bicep' = {
  name: 'alerts'
  params: {
    location: location
    tags: allTags
    actionGroupName: names.actionGroup
    actionGroupShortName: 'tokenbroker'
    alertEmail: alertEmail
    appInsightsName: names.appInsights
    keyVaultName: names.keyVault
    evaluationFrequency: 'PT5M'
    vaultEventsWebhookUrl: vaultEventsWebhookUrl
  }
  dependsOn: [
    monitoring
    keyVault
  ]
}

// The operator's dashboard, and a probe of /api/health from outside that pages when the broker
// stops answering (see docs/alerts.md).
module workbook 'modules/workbook.bicep' = {
  name: 'workbook'
  params: {
    location: location
    tags: allTags
    appInsightsName: names.appInsights
    displayName: 'Token broker (${environmentName})'
  }
  dependsOn: [
    monitoring
  ]
}

var healthUrl = 'https://${functionApp.outputs.defaultHostName}/api/health'

module availability 'modules/availability.bicep' = {
  name: 'availability'
  params: {
    location: location
    tags: allTags
    appInsightsName: names.appInsights
    healthUrl: healthUrl
    actionGroupId: alerts.outputs.actionGroupId
  }
}

// Outputs: azd stores UPPER_CASE outputs in the environment; README.md ("Deploying to Azure") uses them. No secrets.
output AZURE_TENANT_ID string = entraTenantId
output AZURE_LOCATION string = location
output AZURE_RESOURCE_GROUP string = resourceGroup().name
output AZURE_FUNCTION_APP_NAME string = functionApp.outputs.name
output BROKER_TOKEN_URL string = 'https://${functionApp.outputs.defaultHostName}/api/token'
output BROKER_HEALTH_URL string = healthUrl
output BROKER_IDENTITY_CLIENT_ID string = identity.outputs.clientId
output BROKER_IDENTITY_PRINCIPAL_ID string = identity.outputs.principalId
output BROKER_IDENTITY_NAME string = identity.outputs.name
output AZURE_KEY_VAULT_NAME string = keyVault.outputs.name
output AZURE_KEY_VAULT_URL string = keyVault.outputs.uri
output CLIENT_CREDENTIAL_NAME string = clientCredentialName
output CLIENT_CREDENTIAL_KIND string = clientCredentialKind
output BROKER_VAULT_ROLE_ASSIGNMENT_ID string = keyVault.outputs.brokerVaultRoleAssignmentId
// federated mode: the app registration trusts this identity (README.md ("Deploying to Azure"), federated credential).
output FEDERATED_CREDENTIAL_ISSUER string = '${environment().authentication.loginEndpoint}${entraTenantId}/v2.0'
output FEDERATED_CREDENTIAL_SUBJECT string = identity.outputs.principalId
output APPLICATIONINSIGHTS_NAME string = monitoring.outputs.appInsightsName
// Opens the workbook in the portal of this cloud (docs/alerts.md, "The workbook").
output BROKER_WORKBOOK_URL string = '${environment().portal}/#@${tenant().tenantId}/resource${workbook.outputs.id}/workbook'
output BROKER_WORKBOOK_ID string = workbook.outputs.id
output BROKER_HEALTH_TEST_ID string = availability.outputs.webTestId
