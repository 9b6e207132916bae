// Who hears about trouble: an action group (email), a log alert on the broker's own alert events,
// and Key Vault's near-expiry / expired events forwarded through Event Grid.

@description('Azure region of the vault and Application Insights.')
param location string

@description('Tags for every resource.')
param tags object

@description('Action group name.')
param actionGroupName string

@description('Short name shown in alert emails and texts (1-12 characters).')
@minLength(1)
@maxLength(12)
param actionGroupShortName string

@description('Email address that receives alerts; empty for an action group without receivers.')
param alertEmail string

@description('Application Insights component the broker logs to.')
param appInsightsName string

@description('Key Vault that holds the broker credential.')
param keyVaultName string

@description('How often the log alert runs (ISO 8601 duration).')
param evaluationFrequency string

@description('Event Grid webhook that also receives the vault events (must answer the Event Grid validation handshake); empty for none.')
@secure()
param vaultEventsWebhookUrl string

// The broker logs one JSON object per line; alert events carry an `event` field (src/core/alert.ts).
// In Application Insights each line is a `traces` row whose message is that JSON text.
var brokerAlertEvents = [
  'SecretExpiryWarning'
  'SecretExpired'
  'CredentialRotationFailed'
  'TokenRefreshFailing'
]

var brokerAlertQuery = join(
  [
    'let alertEvents = dynamic(${string(brokerAlertEvents)});'
    'traces'
    '| where message has_any (alertEvents)'
    '| extend record = parse_json(extract(@"(\\{.*\\})", 1, message))'
    '| extend brokerEvent = tostring(record.event), credentialName = tostring(record.credentialName)'
    '| where brokerEvent in (alertEvents)'
    '| project timestamp, brokerEvent, credentialName, severityLevel, message'
  ],
  '\n'
)

var vaultEventTypes = [
  'Microsoft.KeyVault.SecretNearExpiry'
  'Microsoft.KeyVault.SecretExpired'
  'Microsoft.KeyVault.CertificateNearExpiry'
  'Microsoft.KeyVault.CertificateExpired'
]

resource appInsights 'Microsoft.Insights/components@2020-02-02' existing = {
  name: appInsightsName
}

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' existing = {
  name: keyVaultName
}

resource actionGroup 'Microsoft.Insights/actionGroups@2023-01-01' = {
  name: actionGroupName
  location: 'global'
  tags: tags
  properties: {
    groupShortName: actionGroupShortName
    enabled: true
    emailReceivers: empty(alertEmail)
      ? []
      : [
          {
            name: 'broker-operator'
            emailAddress: alertEmail
            useCommonAlertSchema: true
          }
        ]
  }
}

resource brokerAlertRule 'Microsoft.Insights/scheduledQueryRules@2023-12-01' = {
  name: 'broker-alert-events-${appInsights.name}'
  location: location
  tags: tags
  properties: {
    displayName: 'Token broker alert events'
    description: 'The token broker logged ${join(brokerAlertEvents, ', ')}: its client credential is expiring, expired, failed to rotate, or tokens cannot be refreshed.'
    severity: 1
    enabled: true
    scopes: [
      appInsights.id
    ]
    evaluationFrequency: evaluationFrequency
    windowSize: evaluationFrequency
    criteria: {
      allOf: [
        {
          query: brokerAlertQuery
          timeAggregation: 'Count'
          operator: 'GreaterThan'
          threshold: 0
          dimensions: [
            {
              name: 'brokerEvent'
              operator: 'Include'
              values: [
                '*'
              ]
            }
          ]
          failingPeriods: {
            numberOfEvaluationPeriods: 1
            minFailingPeriodsToAlert: 1
          }
        }
      ]
    }
    autoMitigate: false
    actions: {
      actionGroups: [
        actionGroup.id
      ]
    }
  }
}

resource vaultTopic 'Microsoft.EventGrid/systemTopics@2025-02-15' = {
  name: 'evgt-${vault.name}'
  location: location
  tags: tags
  properties: {
    source: vault.id
    topicType: 'Microsoft.KeyVault.vaults'
  }
}

// Azure Monitor alert destination: each vault event becomes an alert sent to the action group.
resource vaultEventsToActionGroup 'Microsoft.EventGrid/systemTopics/eventSubscriptions@2025-02-15' = {
  parent: vaultTopic
  name: 'credential-expiry-to-action-group'
  properties: {
    eventDeliverySchema: 'CloudEventSchemaV1_0'
    filter: {
      includedEventTypes: vaultEventTypes
    }
    destination: {
      endpointType: 'MonitorAlert'
      properties: {
        severity: 'Sev1'
        description: 'Key Vault reports the token broker credential is near expiry or expired.'
        actionGroups: [
          actionGroup.id
        ]
      }
    }
  }
}

resource vaultEventsToWebhook 'Microsoft.EventGrid/systemTopics/eventSubscriptions@2025-02-15' = if (!empty(vaultEventsWebhookUrl)) {
  parent: vaultTopic
  name: 'credential-expiry-to-webhook'
  properties: {
    filter: {
      includedEventTypes: vaultEventTypes
    }
    destination: {
      endpointType: 'WebHook'
      properties: {
        endpointUrl: vaultEventsWebhookUrl
      }
    }
  }
}

output actionGroupId string = actionGroup.id
output vaultTopicName string = vaultTopic.name
