// An Application Insights standard availability test on the broker's /api/health, and its alert:
// a broker that stops answering (or answers 503: no usable token) pages someone even when it logs
// nothing at all.

@description('Azure region of Application Insights (a web test must be in the same region).')
param location string

@description('Tags for every resource.')
param tags object

@description('Application Insights component that runs the test and keeps its results.')
param appInsightsName string

@description('The broker health URL, https://<host>/api/health.')
param healthUrl string

@description('Action group the alert notifies.')
param actionGroupId string

@description('Test locations (Application Insights location IDs); the alert fires when failedLocationCount of them fail.')
@minLength(3)
param testLocations array = [
  'us-va-ash-azr'
  'us-ca-sjc-azr'
  'emea-nl-ams-azr'
  'emea-gb-db3-azr'
  'apac-sg-sin-azr'
]

@description('How many locations must fail at once before the alert fires (one failing location is usually the network).')
@minValue(1)
param failedLocationCount int = 2

@description('Seconds between two runs of the test from each location.')
@allowed([
  300
  600
  900
])
param frequencySeconds int = 300

resource appInsights 'Microsoft.Insights/components@2020-02-02' existing = {
  name: appInsightsName
}

// The portal shows a web test under its component only with this tag.
var linkToComponent = {
  'hidden-link:${appInsights.id}': 'Resource'
}

resource healthTest 'Microsoft.Insights/webtests@2022-06-15' = {
  name: 'broker-health-${appInsights.name}'
  location: location
  tags: union(tags, linkToComponent)
  kind: 'standard'
  properties: {
    SyntheticMonitorId: 'broker-health-${appInsights.name}'
    Name: 'Token broker health'
    Description: 'GET /api/health answers 200 {"status":"ok"}: the broker is up and holds (or can get) its tokens.'
    Enabled: true
    Frequency: frequencySeconds
    Timeout: 30
    Kind: 'standard'
    RetryEnabled: true
    Locations: map(testLocations, id => { Id: id })
    Request: {
      RequestUrl: healthUrl
      HttpVerb: 'GET'
      ParseDependentRequests: false
    }
    ValidationRules: {
      ExpectedHttpStatusCode: 200
      IgnoreHttpStatusCode: false
      SSLCheck: true
      SSLCertRemainingLifetimeCheck: 7
      ContentValidation: {
        ContentMatch: '"status":"ok"'
        IgnoreCase: false
        PassIfTextFound: true
      }
    }
  }
}

resource healthAlert 'Microsoft.Insights/metricAlerts@2018-03-01' = {
  name: 'broker-health-${appInsights.name}'
  location: 'global'
  tags: union(tags, linkToComponent, {
    'hidden-link:${healthTest.id}': 'Resource'
  })
  properties: {
    description: 'The token broker health endpoint failed from ${failedLocationCount} or more test locations: it is down, unreachable, or cannot serve tokens (503). Runbook: docs/alerts.md#brokerunavailable.'
    severity: 1
    enabled: true
    scopes: [
      healthTest.id
      appInsights.id
    ]
    evaluationFrequency: 'PT1M'
    windowSize: 'PT5M'
    criteria: {
      'odata.type': 'Microsoft.Azure.Monitor.WebtestLocationAvailabilityCriteria'
      webTestId: healthTest.id
      componentId: appInsights.id
      failedLocationCount: failedLocationCount
    }
    // Unlike the log alerts, this is a state: it resolves itself once the health check passes again.
    autoMitigate: true
    actions: [
      {
        actionGroupId: actionGroupId
      }
    ]
  }
}

output webTestId string = healthTest.id
output alertId string = healthAlert.id
