// The broker: a Node.js Function App on the Flex Consumption plan (FC1), running as the runtime
// identity, with every documented setting, App Service Authentication (Easy Auth) in front, and
// optionally VNet integration and inbound access restrictions (docs/security.md).
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

@description('Resource ID of the runtime identity: host storage, telemetry, Key Vault reads.')
param identityId string

@description('Client ID of the runtime identity.')
param identityClientId string

@description('Resource ID of the deployment identity: the only one that may write the deployment package.')
param deploymentIdentityId string

@description('True in federated mode: the federated identity is attached and is the broker\'s AZURE_CLIENT_ID.')
param useFederatedIdentity bool

@description('Resource ID of the federated identity (the client assertion in federated mode; holds no role).')
param federatedIdentityId string

@description('Client ID of the federated identity.')
param federatedIdentityClientId string

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

@description('ALERT_WEBHOOK_URL app setting: empty, or a Key Vault reference (never the URL itself, which may carry a key).')
param alertWebhookSetting string

@description('App Service Authentication (Easy Auth) in front: refuses requests without a valid caller token before the worker runs.')
param easyAuthEnabled bool

@description('Subnet the app integrates with (all outbound traffic through the VNet); empty for none.')
param virtualNetworkSubnetId string

@description('Inbound access restrictions: IPv4/IPv6 ranges (CIDR) allowed to call the app; with the service tags below, empty for no restriction.')
param inboundAllowedIpRanges string[]

@description('Inbound access restrictions: service tags (e.g. AzureCloud, ApiManagement) allowed to call the app.')
param inboundAllowedServiceTags string[]

@description('Log Analytics workspace that receives the Function App logs and metrics.')
param logAnalyticsId string

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
  ENTRA_TOKEN_EXCHANGE_AUDIENCE: string
}

// Largest request body the Functions host accepts before it would hand it to the worker. The broker
// reads at most 4096 bytes and answers 413 itself (docs/openapi.yaml); twice that leaves the broker's
// own JSON 413 for near misses while the host refuses anything bigger without buffering it.
var requestBodyLimitBytes = 8192

// Easy Auth is derived from the same broker settings as the app settings below, so the platform
// and the broker can never disagree about who may call.
var callerAudiences = filter(map(split(brokerSettings.CALLER_AUDIENCES, ','), a => trim(a)), a => !empty(a))
var callerTenants = filter(map(split(brokerSettings.CALLER_TENANTS, ','), t => trim(t)), t => !empty(t))
var acceptedTenants = empty(callerTenants) ? [brokerSettings.ENTRA_TENANT_ID] : callerTenants
var authorityHost = endsWith(brokerSettings.ENTRA_AUTHORITY_HOST, '/')
  ? brokerSettings.ENTRA_AUTHORITY_HOST
  : '${brokerSettings.ENTRA_AUTHORITY_HOST}/'
// One tenant: Easy Auth accepts that tenant's tokens only. Several: it cannot list tenants, so it
// takes the multi-tenant issuer and the broker alone enforces CALLER_TENANTS.
var easyAuthIssuer = length(acceptedTenants) == 1
  ? '${authorityHost}${acceptedTenants[0]}/v2.0'
  : '${authorityHost}common/v2.0'
// The broker API's app ID (the GUID among CALLER_AUDIENCES), when there is one.
var apiAppIds = filter(callerAudiences, a => length(a) == 36 && length(split(a, '-')) == 5)
var callerAppIds = objectKeys(json(brokerSettings.CALLER_POLICY))

var inboundRules = concat(
  map(inboundAllowedIpRanges, (range, i) => {
    name: 'allow-ip-${i}'
    action: 'Allow'
    priority: 100 + i
    ipAddress: range
    tag: 'Default'
  }),
  map(inboundAllowedServiceTags, (serviceTag, i) => {
    name: 'allow-${toLower(serviceTag)}'
    action: 'Allow'
    priority: 500 + i
    ipAddress: serviceTag
    tag: 'ServiceTag'
  })
)

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
    userAssignedIdentities: union(
      {
        '${identityId}': {}
        '${deploymentIdentityId}': {}
      },
      useFederatedIdentity ? { '${federatedIdentityId}': {} } : {}
    )
  }
  properties: {
    serverFarmId: plan.id
    httpsOnly: true
    clientCertEnabled: false
    publicNetworkAccess: 'Enabled'
    virtualNetworkSubnetId: empty(virtualNetworkSubnetId) ? null : virtualNetworkSubnetId
    // Key Vault references (ALERT_WEBHOOK_URL) are resolved with the runtime identity.
    keyVaultReferenceIdentity: identityId
    siteConfig: {
      ipSecurityRestrictions: inboundRules
      ipSecurityRestrictionsDefaultAction: empty(inboundRules) ? 'Allow' : 'Deny'
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
          name: 'ENTRA_TOKEN_EXCHANGE_AUDIENCE'
          value: brokerSettings.ENTRA_TOKEN_EXCHANGE_AUDIENCE
        }
        {
          name: 'KEY_VAULT_URL'
          value: keyVaultUrl
        }
        {
          name: 'ALERT_WEBHOOK_URL'
          value: alertWebhookSetting
        }
        {
          // The identity the broker's own code uses: Key Vault reads, or the federated assertion.
          name: 'AZURE_CLIENT_ID'
          value: useFederatedIdentity ? federatedIdentityClientId : identityClientId
        }
        {
          name: 'FUNCTIONS_REQUEST_BODY_SIZE_LIMIT'
          value: string(requestBodyLimitBytes)
        }
      ]
    }
    functionAppConfig: {
      deployment: {
        storage: {
          type: 'blobContainer'
          value: deploymentContainerUrl
          // Not the runtime identity: the identity that serves traffic cannot write the package.
          authentication: {
            type: 'UserAssignedIdentity'
            userAssignedIdentityResourceId: deploymentIdentityId
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

// Easy Auth (docs/security.md): a caller without a valid token for CALLER_AUDIENCES from an app in
// CALLER_POLICY gets 401 from the platform, before the Functions host reads its body. The broker
// still verifies every token itself and never trusts the X-MS-CLIENT-PRINCIPAL headers.
resource authSettings 'Microsoft.Web/sites/config@2024-04-01' = {
  parent: site
  name: 'authsettingsV2'
  properties: {
    platform: {
      enabled: easyAuthEnabled
      runtimeVersion: '~1'
    }
    globalValidation: {
      requireAuthentication: true
      unauthenticatedClientAction: 'Return401'
      // Health probes carry no token; /api/health says only ok or unhealthy.
      excludedPaths: [
        '/api/health'
      ]
    }
    identityProviders: {
      azureActiveDirectory: {
        enabled: true
        isAutoProvisioned: false
        registration: union({ openIdIssuer: easyAuthIssuer }, empty(apiAppIds) ? {} : { clientId: apiAppIds[0] })
        validation: {
          allowedAudiences: callerAudiences
          defaultAuthorizationPolicy: {
            allowedApplications: callerAppIds
          }
          jwtClaimChecks: {
            allowedClientApplications: callerAppIds
          }
        }
      }
    }
    login: {
      tokenStore: {
        enabled: false
      }
    }
    httpSettings: {
      requireHttps: true
    }
  }
}

resource diagnostics 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = {
  name: 'to-log-analytics'
  scope: site
  properties: {
    workspaceId: logAnalyticsId
    // allLogs: FunctionAppLogs and, with Easy Auth on, AppServiceAuthenticationLogs (every 401 it gives).
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

output name string = site.name
output defaultHostName string = site.properties.defaultHostName
