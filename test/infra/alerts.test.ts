/**
 * Who gets paged, checked on the compiled ARM template: the log alert rules are generated from the
 * alert catalog (src/contract/alertCatalog.json), so every event the broker can raise at warning or
 * error is matched by a deployed rule that pages through the action group, and info events by none;
 * the workbook and the /api/health availability test (with its own alert) are deployed on the
 * broker's Application Insights, and linked from the outputs.
 *
 * "Matched" is checked on real log lines: each (event, severity) of the catalog is raised through
 * the broker's own alert sink, and each rule's filter is applied to the line it wrote.
 */
import type { app as functionsApp } from '@azure/functions';
import { registerFunctions } from '../../src/app';
import type { Broker } from '../../src/broker';
import { ALERT_CATALOG, ALERT_PAGING, type AlertKind } from '../../src/contract/alertCatalog';
import { createAlertSink } from '../../src/operations/alerts';
import { createHealthHandler } from '../../src/http/healthHandler';
import { createLogger } from '../../src/platform/logger';
import {
  allResources,
  type ArmTemplate,
  BUILD_TIMEOUT_MS,
  compileMainTemplate,
  deploy,
  type Deployed,
  describeWithBicep,
  type FoundResource,
  type JsonObject,
  obj,
  resourceList,
  str,
} from './armTemplate';

const COMPONENT_ID = '/providers/Microsoft.Insights/components/{appInsightsName}';
const ACTION_GROUP_ID = '/providers/Microsoft.Insights/actionGroups/{actionGroupName}';

/** The line the broker's alert sink writes for `kind` (a real sink and logger, capturing lines). */
function alertLine(kind: AlertKind): string {
  const lines: string[] = [];
  const sink = createAlertSink({ logger: createLogger({ sink: (line) => lines.push(line) }) });
  sink.raise({ ...kind, credentialName: 'broker-credential', version: 'v1', message: 'An alert.' });
  if (lines.length !== 1) throw new Error(`expected one line, got ${lines.length}`);
  return lines[0]!;
}

/**
 * Applies a broker alert rule's query to one `traces` message, the way Kusto would: the query must
 * have the shape alerts.bicep gives it (anything else throws, so a changed query cannot pass by
 * being misread). `has_any` matches whole terms; `extract` takes the JSON object out of the line.
 */
function ruleMatches(query: string, message: string): boolean {
  const events = JSON.parse(/^let alertEvents = dynamic\((\[[^\]]*\])\);$/m.exec(query)?.[1] ?? 'null') as string[];
  const regex = /\| extend record = parse_json\(extract\(@"([^"]+)", 1, message\)\)/.exec(query)?.[1];
  const severity = /\| where brokerEvent in \(alertEvents\) and brokerSeverity == "(\w+)"/.exec(query)?.[1];
  if (!Array.isArray(events) || !query.includes('| where message has_any (alertEvents)') || !regex || !severity) {
    throw new Error(`not a broker alert rule query:\n${query}`);
  }
  const terms = new Set(message.match(/[A-Za-z0-9]+/g) ?? []);
  if (!events.some((event) => terms.has(event))) return false;
  const json = new RegExp(regex).exec(message)?.[1];
  if (json === undefined) return false;
  const record = JSON.parse(json) as Record<string, unknown>;
  return events.includes(String(record.event)) && record.severity === severity;
}

const ALL_KINDS: { kind: AlertKind; label: string }[] = ALERT_CATALOG.flatMap((entry) =>
  Object.keys(entry.severities).map((severity) => ({
    // Built from the catalog itself, so each pair is one the types allow.
    kind: { event: entry.event, severity } as AlertKind,
    label: `${entry.event} at ${severity}`,
  })),
);

describeWithBicep('infra: alerts, workbook and availability test (compiled ARM template)', () => {
  let main: ArmTemplate;
  let resources: FoundResource[];

  const deployedOfType = (type: string): Deployed[] =>
    resources.filter((found) => found.resource.type === type).flatMap(deploy);
  const moduleParameter = (module: string, name: string): string => {
    const deployment = resourceList(main).find((resource) => resource.name === module);
    return str(obj(obj(obj(obj(deployment).properties).parameters)[name]).value);
  };

  beforeAll(() => {
    main = compileMainTemplate();
    resources = allResources(main);
  }, BUILD_TIMEOUT_MS);

  describe('log alert rules on the broker alert events', () => {
    let rules: Deployed[];
    const queryOf = (rule: Deployed): string =>
      str(obj((obj(rule.properties.criteria).allOf as JsonObject[])[0]).query);

    beforeAll(() => {
      rules = deployedOfType('Microsoft.Insights/scheduledQueryRules');
    });

    test('one rule per paged severity of the catalog: errors at Azure Monitor severity 1, warnings lower', () => {
      expect(ALERT_PAGING.map((tier) => tier.severity)).toEqual(['error', 'warning']);
      expect(rules.map((rule) => rule.properties.severity)).toEqual(
        ALERT_PAGING.map((tier) => tier.azureMonitorSeverity),
      );
      expect(rules[0]!.properties.severity).toBe(1);
      expect(Number(rules[1]!.properties.severity)).toBeGreaterThan(1);
      for (const rule of rules) {
        expect(rule.module).toBe('alerts');
        expect(rule.properties.enabled).toBe(true);
        expect(rule.properties.scopes).toEqual([COMPONENT_ID]);
        expect(obj(rule.properties.actions as JsonObject).actionGroups).toEqual([ACTION_GROUP_ID]);
      }
    });

    test.each(ALL_KINDS)(
      'a real $label line is matched by the rule of its severity, and only that one (info: none)',
      ({ kind }) => {
        const line = alertLine(kind);
        // As the Functions host might record it: with text around the JSON.
        const message = `[worker] ${line} (stdout)`;
        const matched = rules
          .filter((rule) => ruleMatches(queryOf(rule), message))
          .map((rule) => rule.properties.severity);
        const tier = ALERT_PAGING.find((candidate) => candidate.severity === kind.severity);
        expect(matched).toEqual(tier ? [tier.azureMonitorSeverity] : []);
      },
    );

    test('info events stay out of paging, and the catalog has some (so the check above means something)', () => {
      const infoOnly = ALERT_CATALOG.filter((entry) => Object.keys(entry.severities).every((s) => s === 'info'));
      expect(infoOnly.map((entry) => entry.event)).toEqual(
        expect.arrayContaining(['CredentialRotated', 'CredentialNotExpiring']),
      );
      for (const rule of rules) {
        const listed = /^let alertEvents = dynamic\((\[[^\]]*\])\);$/m.exec(queryOf(rule))![1]!;
        for (const entry of infoOnly) expect(listed).not.toContain(`"${entry.event}"`);
      }
    });

    test('a line that is not an alert, or names an event only in its text, pages nobody', () => {
      const lines: string[] = [];
      createLogger({ sink: (line) => lines.push(line) }).warn('TokenRefreshFailed', {
        message: 'SecretExpired and KeyVaultAccessFailed mentioned in passing',
      });
      for (const rule of rules) expect(ruleMatches(queryOf(rule), lines[0]!)).toBe(false);
    });

    test('each alert names its event and its runbook (dimensions), and stays open until handled', () => {
      for (const rule of rules) {
        const criterion = obj((obj(rule.properties.criteria).allOf as JsonObject[])[0]);
        expect((criterion.dimensions as JsonObject[]).map((d) => d.name)).toEqual(['brokerEvent', 'runbook']);
        expect(criterion.operator).toBe('GreaterThan');
        expect(criterion.threshold).toBe(0);
        expect(rule.properties.autoMitigate).toBe(false);
        const runbooks = JSON.parse(/^let runbooks = dynamic\((\{.*\})\);$/m.exec(queryOf(rule))![1]!) as Record<
          string,
          string
        >;
        for (const entry of ALERT_CATALOG) expect(runbooks[entry.event]).toBe(`docs/alerts.md#${entry.runbook}`);
      }
    });
  });

  describe('the workbook', () => {
    let workbook: Deployed;
    let content: JsonObject;

    beforeAll(() => {
      const workbooks = deployedOfType('Microsoft.Insights/workbooks');
      expect(workbooks).toHaveLength(1);
      workbook = workbooks[0]!;
      content = JSON.parse(str(workbook.properties.serializedData)) as JsonObject;
    });

    test('is a shared workbook on the broker Application Insights, next to it', () => {
      expect(workbook.module).toBe('workbook');
      expect(workbook.resource.kind).toBe('shared');
      expect(workbook.resource.location).toBe('{location}');
      expect(workbook.properties.category).toBe('workbook');
      expect(workbook.properties.sourceId).toBe(COMPONENT_ID);
      expect(content.version).toBe('Notebook/1.0');
      expect(content.fallbackResourceIds).toEqual([COMPONENT_ID]);
      expect(workbook.resource.name).toBe(`guid(${COMPONENT_ID}, entra-token-broker-workbook)`);
      expect(moduleParameter('workbook', 'appInsightsName')).toBe("[variables('names').appInsights]");
      expect(moduleParameter('monitoring', 'appInsightsName')).toBe("[variables('names').appInsights]");
    });

    test('has the panels an operator asks for, each a query on the component over the picked time range', () => {
      const items = content.items as JsonObject[];
      const timeRange = items.find((item) => item.type === 9);
      expect(JSON.stringify(timeRange)).toContain('"name":"TimeRange"');
      const panels = items.filter((item) => item.type === 3);
      expect(panels.map((panel) => panel.name)).toEqual(
        expect.arrayContaining([
          'requests-by-status',
          'requests-by-caller',
          'cache-hit-ratio',
          'broker-latency',
          'acquisitions',
          'entra-latency',
          'credential-days-left',
          'alerts-raised',
        ]),
      );
      for (const panel of panels) {
        const panelContent = obj(panel.content);
        expect([panel.name, panelContent.version, panelContent.timeContextFromParameter]).toEqual([
          panel.name,
          'KqlItem/1.0',
          'TimeRange',
        ]);
        expect(panelContent.resourceType).toBe('microsoft.insights/components');
        expect(str(panelContent.query).length).toBeGreaterThan(20);
      }
      const alertsPanel = obj(panels.find((panel) => panel.name === 'alerts-raised')!.content);
      const listed = JSON.parse(/let alertEvents = dynamic\((\[[^\]]*\])\);/.exec(str(alertsPanel.query))![1]!);
      expect([...(listed as string[])].sort()).toEqual(ALERT_CATALOG.map((entry) => entry.event).sort());
    });

    test("the Functions host panel reads the requests of the broker's token function, by its registered name", () => {
      const registered: string[] = [];
      const app = { http: (name: string) => registered.push(name), timer: () => undefined };
      const logger = createLogger({ sink: () => undefined });
      registerFunctions(
        app as unknown as typeof functionsApp,
        {
          config: { warmupSchedule: '0 */5 * * * *' },
          logger,
        } as unknown as Broker,
      );
      const panel = obj((content.items as JsonObject[]).find((item) => item.name === 'host-latency')!.content);
      const name = /^requests\n\| where name == "(\w+)"$/m.exec(str(panel.query))?.[1];
      expect(registered).toContain('token');
      expect(name).toBe('token');
    });

    test('is linked from the deployment outputs (a portal link for this cloud, and its ID)', () => {
      const url = str(obj(main.outputs.BROKER_WORKBOOK_URL).value);
      expect(url).toContain('environment().portal');
      expect(url).toContain("resourceId('Microsoft.Resources/deployments', 'workbook')");
      expect(url).toMatch(/\/resource\{\d\}\/workbook'/);
      expect(str(obj(main.outputs.BROKER_WORKBOOK_ID).value)).toContain("'workbook'");
    });
  });

  describe('the availability test on /api/health', () => {
    let webTest: Deployed;
    let alert: Deployed;

    beforeAll(() => {
      const tests = deployedOfType('Microsoft.Insights/webtests');
      const alerts = deployedOfType('Microsoft.Insights/metricAlerts');
      expect([tests.length, alerts.length]).toEqual([1, 1]);
      webTest = tests[0]!;
      alert = alerts[0]!;
    });

    test('is a standard test of the broker health URL, shown under its Application Insights', () => {
      expect(webTest.module).toBe('availability');
      expect(webTest.resource.kind).toBe('standard');
      expect(webTest.properties.Kind).toBe('standard');
      expect(webTest.properties.Enabled).toBe(true);
      expect(obj(webTest.resource.tags as JsonObject)[`hidden-link:${COMPONENT_ID}`]).toBe('Resource');
      expect(obj(webTest.properties.Request as JsonObject).RequestUrl).toBe('{healthUrl}');
      expect(obj(webTest.properties.Request as JsonObject).HttpVerb).toBe('GET');
      // The URL main.bicep publishes as BROKER_HEALTH_URL: https://<the Function App's host>/api/health.
      const healthUrl = moduleParameter('availability', 'healthUrl');
      expect(healthUrl).toMatch(
        /^\[format\('https:\/\/\{0\}\/api\/health', reference\(.*'functionApp'.*defaultHostName/,
      );
      expect(str(obj(main.outputs.BROKER_HEALTH_URL).value)).toBe(healthUrl);
      expect((webTest.properties.Locations as JsonObject[]).length).toBeGreaterThanOrEqual(3);
    });

    test('passes only on the answer a healthy broker gives (status 200 and its body)', async () => {
      const rules = obj(webTest.properties.ValidationRules);
      expect(rules.ExpectedHttpStatusCode).toBe(200);
      expect(rules.SSLCheck).toBe(true);
      const match = obj(rules.ContentValidation);
      expect(match.PassIfTextFound).toBe(true);
      const probe = (health: 'ok' | 'unhealthy') =>
        createHealthHandler({ tokens: { health: () => health }, logger: createLogger({ sink: () => undefined }) })({
          method: 'GET',
          url: 'https://broker.example/api/health',
          headers: { get: () => null },
          query: new URLSearchParams(),
          text: async () => '',
        });
      const healthy = await probe('ok');
      const unhealthy = await probe('unhealthy');
      expect(healthy.status).toBe(200);
      expect(healthy.body).toContain(str(match.ContentMatch));
      expect(unhealthy.status).not.toBe(200);
      expect(unhealthy.body).not.toContain(str(match.ContentMatch));
    });

    test('has its own alert: severity 1, on the test and its component, through the action group', () => {
      expect(alert.resource.location).toBe('global');
      expect(alert.properties.severity).toBe(1);
      expect(alert.properties.enabled).toBe(true);
      const criteria = obj(alert.properties.criteria);
      expect(criteria['odata.type']).toBe('Microsoft.Azure.Monitor.WebtestLocationAvailabilityCriteria');
      const webTestId = str(criteria.webTestId);
      expect(webTestId).toMatch(/^\/providers\/Microsoft\.Insights\/webtests\//);
      expect(criteria.componentId).toBe(COMPONENT_ID);
      expect(alert.properties.scopes).toEqual([webTestId, COMPONENT_ID]);
      expect(alert.properties.actions).toEqual([{ actionGroupId: '{actionGroupId}' }]);
      expect(moduleParameter('availability', 'actionGroupId')).toMatch(/'alerts'.*outputs\.actionGroupId\.value\]$/);
      const failedLocations = Number(criteria.failedLocationCount);
      expect(failedLocations).toBeGreaterThanOrEqual(1);
      expect(failedLocations).toBeLessThan((webTest.properties.Locations as JsonObject[]).length);
    });
  });
});
