// The operator's dashboard: an Azure Monitor workbook on the broker's Application Insights.
// Every panel reads the broker's own JSON log lines (`traces`, one JSON object per message) or the
// Functions host's `requests`; docs/alerts.md lists the panels and the log fields they read.

@description('Azure region of Application Insights.')
param location string

@description('Tags for every resource.')
param tags object

@description('Application Insights component the broker logs to.')
param appInsightsName string

@description('Workbook title in the portal.')
param displayName string

resource appInsights 'Microsoft.Insights/components@2020-02-02' existing = {
  name: appInsightsName
}

// The alert events panel lists every event of the alert catalog, the list the broker's types and
// the deployed alert rules are built from.
var alertEventNames = objectKeys(loadJsonContent('../../src/contract/alertCatalog.json').events)

// The broker writes one JSON object per line; the Functions host may put text around it, so the
// object is cut out before parsing. Each query below starts from the lines of one event.
var tokenRequests = '''
traces
| where message has "TokenRequest"
| extend line = parse_json(extract(@"(\{.*\})", 1, message))
| where tostring(line.event) == "TokenRequest"
| extend status = toint(line.status), caller = tostring(line.azp), callerTenant = tostring(line.tid)
| extend cacheHit = tobool(line.cacheHit), latencyMs = todouble(line.latencyMs), errorCode = tostring(line.errorCode)'''

var acquisitions = '''
traces
| where message has_any ("TokenAcquired", "TokenAcquisitionFailed")
| extend line = parse_json(extract(@"(\{.*\})", 1, message))
| extend brokerEvent = tostring(line.event)
| where brokerEvent in ("TokenAcquired", "TokenAcquisitionFailed")
| extend scope = tostring(line.scope), latencyMs = todouble(line.latencyMs), attempts = toint(line.attempts)
| extend outcome = iff(brokerEvent == "TokenAcquired", "acquired", strcat("failed: ", tostring(line.code)))'''

var credentialDaysLeftQuery = '''
let names = traces
    | where message has "CredentialLoaded"
    | extend line = parse_json(extract(@"(\{.*\})", 1, message))
    | where tostring(line.event) == "CredentialLoaded"
    | summarize by credentialVersion = tostring(line.version), credentialName = tostring(line.credentialName);
traces
| where message has "WarmupCompleted"
| extend line = parse_json(extract(@"(\{.*\})", 1, message))
| where tostring(line.event) == "WarmupCompleted" and isnotempty(tostring(line.credentialVersion))
| extend credentialVersion = tostring(line.credentialVersion)
| summarize arg_max(timestamp, line) by app = cloud_RoleName, credentialVersion
| join kind=leftouter names on credentialVersion
| project app, credentialName, credentialKind = tostring(line.credentialKind), credentialVersion,
    expiresOn = todatetime(line.expiresOn), daysLeft = toint(line.daysLeft), lastChecked = timestamp
| order by daysLeft asc'''

var alertsRaisedQuery = '''
traces
| where message has_any (alertEvents)
| extend line = parse_json(extract(@"(\{.*\})", 1, message))
| extend brokerEvent = tostring(line.event)
| where brokerEvent in (alertEvents) and isnotempty(tostring(line.severity))
| project timestamp, brokerEvent, severity = tostring(line.severity), credentialName = tostring(line.credentialName),
    version = tostring(line.version), daysLeft = toint(line.daysLeft), alertMessage = tostring(line.message)
| order by timestamp desc'''

var hostLatencyQuery = '''
requests
| where name == "token"
| summarize p50 = percentile(duration, 50), p95 = percentile(duration, 95), requests = sum(itemCount) by bin(timestamp, 15m)'''

// One chart or table per panel; all share the time range picked at the top of the workbook.
var panels = [
  {
    name: 'requests-by-status'
    title: 'Token requests by HTTP status'
    query: '${tokenRequests}\n| summarize requests = count() by bin(timestamp, 15m), status = tostring(status)'
    visualization: 'timechart'
  }
  {
    name: 'requests-by-caller'
    title: 'Token requests by caller (app ID)'
    query: '${tokenRequests}\n| summarize requests = count() by bin(timestamp, 15m), caller'
    visualization: 'timechart'
  }
  {
    name: 'callers'
    title: 'Callers: requests, refusals and last seen'
    query: '${tokenRequests}\n| summarize requests = count(), served = countif(status == 200), refused = countif(status in (401, 403)), throttled = countif(status == 429), lastSeen = max(timestamp) by caller, callerTenant\n| order by requests desc'
    visualization: 'table'
  }
  {
    name: 'cache-hit-ratio'
    title: 'Cache-hit ratio of served tokens (%)'
    query: '${tokenRequests}\n| where status == 200\n| summarize cacheHitPercent = round(100.0 * countif(cacheHit) / count(), 1) by bin(timestamp, 15m)'
    visualization: 'timechart'
  }
  {
    name: 'broker-latency'
    title: 'Broker latency (ms), as the broker measures it'
    query: '${tokenRequests}\n| summarize p50 = percentile(latencyMs, 50), p95 = percentile(latencyMs, 95) by bin(timestamp, 15m)'
    visualization: 'timechart'
  }
  {
    name: 'host-latency'
    title: 'Token function duration (ms), as the Functions host measures it'
    query: hostLatencyQuery
    visualization: 'timechart'
  }
  {
    name: 'acquisitions'
    title: 'Upstream acquisitions from Entra, and failures by error code'
    query: '${acquisitions}\n| summarize count() by bin(timestamp, 15m), outcome'
    visualization: 'barchart'
  }
  {
    name: 'entra-latency'
    title: 'Entra latency of successful acquisitions (ms)'
    query: '${acquisitions}\n| where brokerEvent == "TokenAcquired"\n| summarize p50 = percentile(latencyMs, 50), p95 = percentile(latencyMs, 95) by bin(timestamp, 15m)'
    visualization: 'timechart'
  }
  {
    name: 'credential-days-left'
    title: 'Credential days left, per credential and version (from the warm-up runs)'
    query: credentialDaysLeftQuery
    visualization: 'table'
  }
  {
    name: 'alerts-raised'
    title: 'Alerts raised'
    query: 'let alertEvents = dynamic(${string(alertEventNames)});\n${alertsRaisedQuery}'
    visualization: 'table'
  }
]

var content = {
  version: 'Notebook/1.0'
  items: concat(
    [
      {
        type: 1
        name: 'intro'
        content: {
          json: '## Token broker\nRequests, cache, latency, Entra acquisitions, credential expiry and alerts, from the broker\'s own log lines. Alerts and runbooks: docs/alerts.md in the broker repository.'
        }
      }
      {
        type: 9
        name: 'parameters'
        content: {
          version: 'KqlParameterItem/1.0'
          parameters: [
            {
              id: 'c9d5e3f0-5f0e-4b8e-9a43-3d1b0b7c6a10'
              version: 'KqlParameterItem/1.0'
              name: 'TimeRange'
              label: 'Time range'
              type: 4
              isRequired: true
              value: {
                durationMs: 86400000
              }
              typeSettings: {
                allowCustom: true
                selectableValues: [
                  {
                    durationMs: 3600000
                  }
                  {
                    durationMs: 14400000
                  }
                  {
                    durationMs: 86400000
                  }
                  {
                    durationMs: 604800000
                  }
                  {
                    // 14 days: larger values do not fit a Bicep int.
                    durationMs: 1209600000
                  }
                ]
              }
            }
          ]
        }
      }
    ],
    map(panels, panel => {
      type: 3
      name: panel.name
      content: {
        version: 'KqlItem/1.0'
        title: panel.title
        query: panel.query
        queryType: 0
        resourceType: 'microsoft.insights/components'
        timeContextFromParameter: 'TimeRange'
        visualization: panel.visualization
        size: 0
      }
    })
  )
  fallbackResourceIds: [
    appInsights.id
  ]
  '$schema': 'https://github.com/Microsoft/Application-Insights-Workbooks/blob/master/schema/workbook.json'
}

resource workbook 'Microsoft.Insights/workbooks@2023-06-01' = {
  // Workbook names must be GUIDs; this one is stable per Application Insights component.
  name: guid(appInsights.id, 'entra-token-broker-workbook')
  location: location
  tags: tags
  kind: 'shared'
  properties: {
    displayName: displayName
    category: 'workbook'
    sourceId: appInsights.id
    serializedData: string(content)
  }
}

output id string = workbook.id
output name string = workbook.name
