/**
 * Every KQL query the project ships, checked offline by the official Kusto language service
 * (test/support/kusto.ts): the queries of the deployed alert rules and workbook, as they are in the
 * compiled ARM JSON, and every ```kusto block of docs/*.md and README.md. Each must parse and
 * analyse with no error or warning against the declared Application Insights (or Log Analytics)
 * tables, so every table, column and function it names exists.
 *
 * Queries that read the broker's JSON log lines are then run, as far as their parsing goes, on real
 * lines the broker wrote in this test: a whole broker against the emulator serves, caches and
 * refuses tokens, fails on a credential Entra calls expired, and runs the warm-up function; every
 * catalog alert is raised through the real alert sink. Each event a query selects must have such a
 * line, the query's way of cutting the JSON out of the message must work on it, and every field it
 * reads must be in those lines.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { InvocationContext, type Timer } from '@azure/functions';
import { ALERT_CATALOG, type AlertKind } from '../../src/contract/alertCatalog';
import { createAlertSink } from '../../src/operations/alerts';
import { createLogger } from '../../src/platform/logger';
import { createWarmupFunction } from '../../src/functions/warmup';
import { type BrokerHarness, startBrokerHarness } from '../support/brokerHarness';
import { checkKql, checkKqlForItsDatabase, type KqlCheck } from '../support/kusto';
import {
  allResources,
  BUILD_TIMEOUT_MS,
  compileMainTemplate,
  deploy,
  describeWithBicep,
  type Json,
  type JsonObject,
  repoRoot,
  str,
} from './armTemplate';

interface ShippedQuery {
  /** Where it is: a resource and JSON path, or a doc file and line. */
  readonly where: string;
  readonly query: string;
  /** Alert rule dimensions, which must be columns of the query's result. */
  readonly dimensions?: readonly string[];
}

/** Every `query` string in a deployed resource, looking inside JSON strings (a workbook's serializedData). */
function queriesIn(value: Json | undefined, where: string, found: ShippedQuery[]): void {
  if (typeof value === 'string') {
    if (value.trimStart().startsWith('{')) {
      try {
        queriesIn(JSON.parse(value) as Json, `${where}(json)`, found);
      } catch {
        // Not JSON: a plain string.
      }
    }
    return;
  }
  if (Array.isArray(value)) {
    value.forEach((item, index) => queriesIn(item, `${where}[${index}]`, found));
    return;
  }
  if (value === null || typeof value !== 'object') return;
  for (const [key, item] of Object.entries(value)) {
    if (key === 'query' && typeof item === 'string') {
      const dimensions = Array.isArray(value.dimensions)
        ? value.dimensions.map((dimension) => str((dimension as JsonObject).name))
        : undefined;
      found.push({ where: `${where}.query`, query: item, ...(dimensions ? { dimensions } : {}) });
    } else {
      queriesIn(item, `${where}.${key}`, found);
    }
  }
}

/** The ```kusto (or ```kql) blocks of README.md and docs/*.md. */
function docQueries(): ShippedQuery[] {
  const docsDir = path.join(repoRoot, 'docs');
  const files = [
    'README.md',
    ...readdirSync(docsDir)
      .filter((name) => name.endsWith('.md'))
      .map((name) => `docs/${name}`),
  ];
  return files.flatMap((file) => {
    const text = readFileSync(path.join(repoRoot, file), 'utf8');
    return [...text.matchAll(/^```(?:kusto|kql)[ \t]*\n([\s\S]*?)^```/gm)].map((match) => ({
      where: `${file}:${text.slice(0, match.index).split('\n').length}`,
      query: match[1]!,
    }));
  });
}

// ---------------------------------------------------------------------------------------------
// Reading a query's use of the broker's JSON lines
// ---------------------------------------------------------------------------------------------

/** How a query turns a `traces` message into the broker's JSON object, as JavaScript. */
function jsonCutterOf(query: string): ((message: string) => string | undefined) | undefined {
  // `message` in Application Insights, `Message` in a Log Analytics workspace.
  const extract = /parse_json\(extract\(@"([^"]+)", 1, [Mm]essage\)\)/.exec(query);
  if (extract) {
    const regex = new RegExp(extract[1]!);
    return (message) => regex.exec(message)?.[1];
  }
  if (/parse_json\(substring\(message, indexof\(message, "\{"\)\)\)/.test(query)) {
    return (message) => (message.includes('{') ? message.slice(message.indexOf('{')) : undefined);
  }
  return undefined;
}

/** The broker events a query selects: the terms of its `has` / `has_any` filters and its alertEvents list. */
function eventsOf(query: string): string[] {
  const events = new Set<string>();
  for (const match of query.matchAll(/\bhas(?:_any)?\s*\(?((?:\s*"\w+"\s*,?)+)\)?/g)) {
    for (const term of match[1]!.matchAll(/"(\w+)"/g)) events.add(term[1]!);
  }
  const listed = /let alertEvents = dynamic\((\[[^\]]*\])\)/.exec(query)?.[1];
  if (listed) for (const event of JSON.parse(listed) as string[]) events.add(event);
  return [...events];
}

/** Fields a query reads from the parsed object: `<name>.<field>` where `<name> = parse_json(...)`. */
function fieldsReadBy(query: string): string[] {
  const names = [...query.matchAll(/\b(\w+) = parse_json\(/g)].map((match) => match[1]!);
  const fields = new Set<string>();
  for (const name of names) {
    for (const match of query.matchAll(new RegExp(`\\b${name}\\.(\\w+)`, 'g'))) fields.add(match[1]!);
  }
  return [...fields];
}

/** Whether `message` has `term` as a whole term, as Kusto's `has` reads it. */
function hasTerm(message: string, term: string): boolean {
  return message.match(/[A-Za-z0-9_]+/g)?.includes(term) === true;
}

const timer: Timer = {
  isPastDue: false,
  schedule: { adjustForDST: false },
  scheduleStatus: { last: '', next: '', lastUpdated: '' },
};

describe('KQL in the docs and README (Kusto language service, offline)', () => {
  const queries = docQueries();

  test('the docs hold queries to check (the alert docs at least)', () => {
    expect(queries.some((query) => query.where.startsWith('docs/alerts.md'))).toBe(true);
  });

  test.each(queries.map((query) => [query.where, query]))('%s parses and analyses cleanly', (_where, shipped) => {
    expect(checkKqlForItsDatabase(shipped.query).problems).toEqual([]);
  });
});

describe('the KQL checker itself', () => {
  test('reports unknown columns, tables, functions and syntax errors, per schema', () => {
    const codes = (check: KqlCheck) => check.problems.map((problem) => problem.code);
    expect(codes(checkKql('traces | project timestamp, message, severityLevel', 'applicationInsights'))).toEqual([]);
    expect(codes(checkKql('traces | project nosuchcolumn', 'applicationInsights'))).toEqual(['KS142']);
    expect(codes(checkKql('AppTraces | project Message', 'applicationInsights'))).not.toEqual([]);
    expect(codes(checkKql('AppTraces | project TimeGenerated, Message', 'logAnalytics'))).toEqual([]);
    expect(codes(checkKql('requests | summarize percentile(duration, 95) by', 'applicationInsights'))).not.toEqual([]);
    expect(codes(checkKql('traces | extend x = nosuchfunction(message)', 'applicationInsights'))).not.toEqual([]);
    expect(checkKql('requests | project name, resultCode', 'applicationInsights').resultColumns).toEqual([
      'name',
      'resultCode',
    ]);
  });

  test('reads which events and fields a query uses, and how it cuts out the JSON', () => {
    const query =
      'traces\n| where message has_any ("TokenAcquired", "TokenAcquisitionFailed")\n' +
      '| extend line = parse_json(extract(@"(\\{.*\\})", 1, message))\n| project s = tostring(line.scope), line.code';
    expect(eventsOf(query)).toEqual(['TokenAcquired', 'TokenAcquisitionFailed']);
    expect(fieldsReadBy(query)).toEqual(['scope', 'code']);
    expect(jsonCutterOf(query)!('host says: {"a":1} ok')).toBe('{"a":1}');
    expect(jsonCutterOf('traces | project message')).toBeUndefined();
  });
});

describeWithBicep('KQL deployed by infra/ (compiled ARM JSON) and the broker lines it reads', () => {
  let shipped: ShippedQuery[];
  let harness: BrokerHarness;
  /** Every line the broker wrote in this test, by event. */
  const linesByEvent = new Map<string, string[]>();

  beforeAll(async () => {
    const main = compileMainTemplate();
    shipped = [];
    // Resources that carry KQL: a `query` property (alert rules) or a workbook's serializedData.
    const withQueries = allResources(main).filter((found) =>
      /"(query|serializedData)"/.test(JSON.stringify(found.resource)),
    );
    for (const found of withQueries) {
      for (const deployed of deploy(found)) {
        queriesIn(deployed.resource, `${found.module}/${str(deployed.resource.type)}`, shipped);
      }
    }
    shipped.push(...docQueries());

    // A whole broker against the emulator: a miss, a hit, a refusal, a warm-up run, then a
    // credential Entra calls expired on a broker with an empty cache.
    harness = await startBrokerHarness({ credentialKind: 'secret', secretExpiresInDays: 10 });
    const first = harness.build();
    expect((await first.callToken()).status).toBe(200);
    expect((await first.callToken()).status).toBe(200);
    expect((await first.callToken({ caller: 'workload-denied' })).status).toBe(403);
    await createWarmupFunction(first.broker.runWarmup, first.broker.logger)(
      timer,
      new InvocationContext({ invocationId: 'kql-test' }),
    );
    harness.emulator.expireCredentialInEntra(first.broker.credentialSource.peek()!.properties.version);
    const second = harness.build();
    expect((await second.callToken()).status).toBe(503);
    await first.broker.alerts.flush();
    await second.broker.alerts.flush();

    const lines = [...harness.logLines];
    // Every alert of the catalog at every severity it may have, through the broker's own sink.
    const sink = createAlertSink({ logger: createLogger({ sink: (line) => lines.push(line) }) });
    for (const entry of ALERT_CATALOG) {
      for (const severity of Object.keys(entry.severities)) {
        const kind = { event: entry.event, severity } as AlertKind;
        sink.raise({ ...kind, credentialName: 'broker-credential', version: 'v1', message: 'Raised by the KQL test.' });
      }
    }
    for (const line of lines) {
      const event = String((JSON.parse(line) as { event?: unknown }).event);
      linesByEvent.set(event, [...(linesByEvent.get(event) ?? []), line]);
    }
  }, BUILD_TIMEOUT_MS);

  afterAll(async () => {
    await harness?.close();
  });

  test('the broker wrote the lines the queries are about', () => {
    for (const event of [
      'TokenRequest',
      'TokenAcquired',
      'TokenAcquisitionFailed',
      'CredentialLoaded',
      'WarmupCompleted',
      'SecretExpiryWarning',
      'CredentialExpired',
    ]) {
      expect([event, linesByEvent.get(event)?.length ?? 0]).toEqual([event, expect.any(Number)]);
      expect(linesByEvent.get(event)?.length ?? 0).toBeGreaterThan(0);
    }
  });

  test('the template holds the alert rules and workbook panels (so the checks below have something to check)', () => {
    const infra = shipped.filter((query) => !query.where.includes('.md:'));
    expect(
      infra.filter((query) => query.where.startsWith('alerts/Microsoft.Insights/scheduledQueryRules')),
    ).toHaveLength(2);
    expect(
      infra.filter((query) => query.where.startsWith('workbook/Microsoft.Insights/workbooks')).length,
    ).toBeGreaterThanOrEqual(8);
  });

  test('every query in infra parses and analyses cleanly, and returns rows with columns', () => {
    for (const query of shipped) {
      const check = checkKqlForItsDatabase(query.query);
      expect({ where: query.where, problems: check.problems }).toEqual({ where: query.where, problems: [] });
      expect([query.where, check.resultColumns.length > 0]).toEqual([query.where, true]);
    }
  });

  test('alert rule dimensions are columns the rule query returns', () => {
    const rules = shipped.filter((query) => query.dimensions !== undefined);
    expect(rules.length).toBeGreaterThan(0);
    for (const rule of rules) {
      const columns = checkKqlForItsDatabase(rule.query).resultColumns;
      expect([rule.where, rule.dimensions!.filter((name) => !columns.includes(name))]).toEqual([rule.where, []]);
    }
  });

  test('queries that parse the broker JSON lines work on real lines, and read only fields those lines have', () => {
    const parsing = shipped.filter((query) => query.query.includes('parse_json('));
    expect(parsing.length).toBeGreaterThanOrEqual(8);
    for (const { where, query } of parsing) {
      const cut = jsonCutterOf(query);
      expect([where, cut !== undefined]).toEqual([where, true]);
      const events = eventsOf(query);
      expect([where, events.length > 0]).toEqual([where, true]);
      const parsed: Record<string, unknown>[] = [];
      for (const event of events) {
        const lines = linesByEvent.get(event) ?? [];
        expect([where, event, lines.length > 0]).toEqual([where, event, true]);
        for (const line of lines) {
          // As the Functions host may record it: the line alone, or with text around it.
          for (const message of [line, `[stdout] ${line}`]) {
            expect([where, event, hasTerm(message, event)]).toEqual([where, event, true]);
            const json = cut!(message);
            const record = JSON.parse(json ?? 'null') as Record<string, unknown> | null;
            expect([where, record?.event]).toEqual([where, event]);
            parsed.push(record!);
          }
        }
      }
      const missing = fieldsReadBy(query).filter((field) => !parsed.some((record) => record[field] !== undefined));
      expect([where, missing]).toEqual([where, []]);
    }
  });
});
