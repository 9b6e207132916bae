// The broker: a Node.js Function App on the Flex Consumption plan (FC1), running as the
// user-assigned identity, with every documented setting.
// Flex Consumption refuses FUNCTIONS_WORKER_RUNTIME, FUNCTIONS_EXTENSION_VERSION and
// WEBSITE_RUN_FROM_PACKAGE as app settings: the runtime lives in functionAppConfig instead.

@description('Function App name (also the default host name).')
param name string

@description('Flex Consumption plan name.')
param planName string

@description('Azure region (must offer Flex Consumption).')
param location string

@description('Tags for the plan.')
param tags object

@description('Tags for the Function App (azd finds the service by its azd-service-name tag).')
param appTags object

@description('Resource ID of the user-assigned identity the app runs as.')
param identityId string

@description('Client ID of that identity.')
param identityClientId string

@description('Storage account of the Functions host.')
param storageAccountName string

@description('Blob container URL of the deployment package.')
param deploymentContainerUrl string

@description('Application Insights connection string.')
param appInsightsConnectionString string

@description('Node.js major version (Azure Functions runtime stack).')
@allowed([
  '22'
])
param nodeVersion string

@description('Most instances the app scales out to.')
@minValue(1)
@maxValue(1000)
param maximumInstanceCount int

@description('Memory per instance, MB.')
@allowed([
  512
  2048
  4096
])
param instanceMemoryMB int

@description('Instances kept warm (0: scale to zero; 1 avoids cold starts on the token endpoint).')
@minValue(0)
@maxValue(20)
param alwaysReadyInstances int

@description('Broker settings, except the ones this module derives (AZURE_CLIENT_ID, KEY_VAULT_URL, ALERT_WEBHOOK_URL).')
param brokerSettings brokerSettingsType

@description('ALERT_WEBHOOK_URL: may carry a key in its query string, so it is a secure value.')
@secure()
param alertWebhookUrl string

@description('KEY_VAULT_URL.')
param keyVaultUrl string

// Every value is a string, exactly as the broker reads it (the settings table in README.md).
type brokerSettingsType = {
  ENTRA_TENANT_ID: string
  ENTRA_CLIENT_ID: string
  ENTRA_AUTHORITY_HOST: string
  CLIENT_CREDENTIAL_NAME: string
  CLIENT_CREDENTIAL_KIND: ('secret' | 'certificate' | 'federated')
  TOKEN_SCOPES: string
  CALLER_AUDIENCES: string
  CALLER_TENANTS: string
  CALLER_REQUIRED_ROLE: string
  CALLER_POLICY: string
  TOKEN_MIN_LIFETIME_SECONDS: string
  CALLER_RATE_LIMIT_PER_MINUTE: string
  WARMUP_SCHEDULE: string
  SECRET_EXPIRY_WARNING_DAYS: string
}

resource plan 'Microsoft.Web/serverfarms@2024-04-01' = {
  name: planName
  location: location
  tags: tags
  kind: 'functionapp'
  sku: {
    tier: 'FlexConsumption'
    name: 'FC1'
  }
  properties: {
    reserved: true
  }
}

resource site 'Microsoft.Web/sites@2024-04-01' = {
  name: name
  location: location
  tags: appTags
  kind: 'functionapp,linux'
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: {
      '${identityId}': {}
    }
  }
  properties: {
    serverFarmId: plan.id
    httpsOnly: true
    clientCertEnabled: false
    publicNetworkAccess: 'Enabled'
    siteConfig: {
      minTlsVersion: '1.2'
      scmMinTlsVersion: '1.2'
      ftpsState: 'Disabled'
      http20Enabled: true
      appSettings: [
        {
          name: 'AzureWebJobsStorage__accountName'
          value: storageAccountName
        }
        {
          name: 'AzureWebJobsStorage__credential'
          value: 'managedidentity'
        }
        {
          name: 'AzureWebJobsStorage__clientId'
          value: identityClientId
        }
        {
          name: 'APPLICATIONINSIGHTS_CONNECTION_STRING'
          value: appInsightsConnectionString
        }
        {
          name: 'APPLICATIONINSIGHTS_AUTHENTICATION_STRING'
          value: 'ClientId=${identityClientId};Authorization=AAD'
        }
        {
          name: 'ENTRA_TENANT_ID'
          value: brokerSettings.ENTRA_TENANT_ID
        }
        {
          name: 'ENTRA_CLIENT_ID'
          value: brokerSettings.ENTRA_CLIENT_ID
        }
        {
          name: 'ENTRA_AUTHORITY_HOST'
          value: brokerSettings.ENTRA_AUTHORITY_HOST
        }
        {
          name: 'CLIENT_CREDENTIAL_NAME'
          value: brokerSettings.CLIENT_CREDENTIAL_NAME
        }
        {
          name: 'CLIENT_CREDENTIAL_KIND'
          value: brokerSettings.CLIENT_CREDENTIAL_KIND
        }
        {
          name: 'TOKEN_SCOPES'
          value: brokerSettings.TOKEN_SCOPES
        }
        {
          name: 'CALLER_AUDIENCES'
          value: brokerSettings.CALLER_AUDIENCES
        }
        {
          name: 'CALLER_TENANTS'
          value: brokerSettings.CALLER_TENANTS
        }
        {
          name: 'CALLER_REQUIRED_ROLE'
          value: brokerSettings.CALLER_REQUIRED_ROLE
        }
        {
          name: 'CALLER_POLICY'
          value: brokerSettings.CALLER_POLICY
        }
        {
          name: 'TOKEN_MIN_LIFETIME_SECONDS'
          value: brokerSettings.TOKEN_MIN_LIFETIME_SECONDS
        }
        {
          name: 'CALLER_RATE_LIMIT_PER_MINUTE'
          value: brokerSettings.CALLER_RATE_LIMIT_PER_MINUTE
        }
        {
          name: 'WARMUP_SCHEDULE'
          value: brokerSettings.WARMUP_SCHEDULE
        }
        {
          name: 'SECRET_EXPIRY_WARNING_DAYS'
          value: brokerSettings.SECRET_EXPIRY_WARNING_DAYS
        }
        {
          name: 'KEY_VAULT_URL'
          value: keyVaultUrl
        }
        {
          name: 'ALERT_WEBHOOK_URL'
          value: alertWebhookUrl
        }
        {
          name: 'AZURE_CLIENT_ID'
          value: identityClientId
        }
      ]
    }
    functionAppConfig: {
      deployment: {
        storage: {
          type: 'blobContainer'
          value: deploymentContainerUrl
          authentication: {
            type: 'UserAssignedIdentity'
            userAssignedIdentityResourceId: identityId
          }
        }
      }
      scaleAndConcurrency: {
        maximumInstanceCount: maximumInstanceCount
        instanceMemoryMB: instanceMemoryMB
        alwaysReady: alwaysReadyInstances > 0
          ? [
              {
                name: 'http'
                instanceCount: alwaysReadyInstances
              }
            ]
          : []
      }
      runtime: {
        name: 'node'
        version: nodeVersion
      }
    }
  }
}

// Deployment goes through the identity into blob storage; basic (user/password) publishing is off.
resource ftpPublishing 'Microsoft.Web/sites/basicPublishingCredentialsPolicies@2024-04-01' = {
  parent: site
  name: 'ftp'
  properties: {
    allow: false
  }
}

resource scmPublishing 'Microsoft.Web/sites/basicPublishingCredentialsPolicies@2024-04-01' = {
  parent: site
  name: 'scm'
  properties: {
    allow: false
  }
}

output name string = site.name
output defaultHostName string = site.properties.defaultHostName
