// Who hears about trouble: an action group (email), log alerts on the broker's own alert events
// (one per paged severity, generated from the alert catalog), and Key Vault's near-expiry / expired
// events forwarded through Event Grid.

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

// The broker logs one JSON object per line; an alert is a line whose `event` is the alert's name
// and whose `severity` is the severity it was raised at. In Application Insights each line is a
// `traces` row whose message is that JSON text. The events, the severities each may be raised at,
// and how each severity pages all come from the alert catalog the broker's own types are built
// from, so an event added there is matched here without editing this file.
var catalog = loadJsonContent('../../src/contract/alertCatalog.json')
var catalogEvents = items(catalog.events)

// One rule per paged severity (error, warning); info events (CredentialRotated, ...) page nobody.
var pagingTiers = map(items(catalog.paging), tier => {
  severity: tier.key
  azureMonitorSeverity: tier.value.azureMonitorSeverity
  displayName: tier.value.displayName
  events: map(filter(catalogEvents, event => contains(event.value.severities, tier.key)), event => event.key)
})

// Each row names its runbook (docs/alerts.md#<event>), so the alert's dimensions say where to look.
var runbooks = toObject(catalogEvents, event => event.key, event => 'docs/alerts.md#${event.value.runbook}')

var brokerAlertQueries = map(
  pagingTiers,
  tier =>
    join(
      [
        'let alertEvents = dynamic(${string(tier.events)});'
        'let runbooks = dynamic(${string(runbooks)});'
        'traces'
        '| where message has_any (alertEvents)'
        '| extend record = parse_json(extract(@"(\\{.*\\})", 1, message))'
        '| extend brokerEvent = tostring(record.event), brokerSeverity = tostring(record.severity)'
        '| where brokerEvent in (alertEvents) and brokerSeverity == "${tier.severity}"'
        '| extend credentialName = tostring(record.credentialName), runbook = tostring(runbooks[brokerEvent])'
        '| project timestamp, brokerEvent, brokerSeverity, credentialName, runbook, message'
      ],
      '\n'
    )
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

resource brokerAlertRules 'Microsoft.Insights/scheduledQueryRules@2023-12-01' = [
  for (tier, i) in pagingTiers: {
    name: 'broker-alert-${tier.severity}-${appInsights.name}'
    location: location
    tags: tags
    properties: {
      displayName: tier.displayName
      description: 'The token broker raised ${join(tier.events, ', ')} at severity ${tier.severity}. Each alert names its event and runbook (docs/alerts.md).'
      severity: tier.azureMonitorSeverity
      enabled: true
      scopes: [
        appInsights.id
      ]
      evaluationFrequency: evaluationFrequency
      windowSize: evaluationFrequency
      criteria: {
        allOf: [
          {
            query: brokerAlertQueries[i]
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
              {
                name: 'runbook'
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
      // The broker raises each condition once (per version, threshold or failure streak), so every
      // matching line is news; resolving by itself would close an alert nobody has looked at.
      autoMitigate: false
      actions: {
        actionGroups: [
          actionGroup.id
        ]
      }
    }
  }
]

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
