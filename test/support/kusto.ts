/**
 * Offline KQL checking with the official Kusto language service (Kusto.Language compiled to
 * JavaScript, `@kusto/language-service-next`): a query is parsed and analysed against the tables
 * declared below, as Application Insights and Log Analytics define them, with no cluster. An
 * unknown table, column, function or operator, a type error or a syntax error is a diagnostic.
 *
 * Two databases, because the same telemetry has two schemas: a query scoped to an Application
 * Insights component (alert rules, workbooks on the component) reads `traces` / `requests`; a
 * query in a Log Analytics workspace reads `AppTraces` / `AppRequests`.
 */

// The package is a Bridge.NET bundle: loading it defines the global `Kusto` namespace, after its
// runtime (`Bridge`, `System`), in this order. Only the few members used here are typed.
import '@kusto/language-service-next/bridge.min.js';
import '@kusto/language-service-next/Kusto.Language.Bridge.min.js';

interface BridgeList<T> {
  readonly Count: number;
  getItem(index: number): T;
}

interface KustoDiagnostic {
  readonly Severity: string;
  readonly Code: string;
  readonly Message: string;
  readonly Start: number;
  readonly Length: number;
}

interface KustoSymbol {
  readonly Name: string;
  readonly Kind: number;
}

interface KustoTableSymbol extends KustoSymbol {
  readonly Columns: BridgeList<KustoSymbol & { readonly Type: KustoSymbol }>;
  WithName(name: string): KustoTableSymbol;
}

interface KustoCode {
  GetDiagnostics(): BridgeList<KustoDiagnostic>;
  readonly ResultType: KustoSymbol | null;
}

interface KustoLanguage {
  Symbols: {
    TableSymbol: { From(schema: string): KustoTableSymbol };
    DatabaseSymbol: { ctor: new (name: string, members: KustoSymbol[]) => KustoSymbol };
  };
  GlobalState: { Default: { WithDatabase(database: KustoSymbol): unknown } };
  KustoCode: { ParseAndAnalyze(text: string, globals: unknown): KustoCode };
}

function loadKusto(): KustoLanguage {
  const holder = globalThis as { Kusto?: { Language: KustoLanguage } };
  if (!holder.Kusto) throw new Error('@kusto/language-service-next did not define the Kusto namespace');
  return holder.Kusto.Language;
}

/** Columns shared by every Application Insights table (classic names). */
const APP_INSIGHTS_COMMON =
  'itemType:string, customDimensions:dynamic, operation_Name:string, operation_Id:string, ' +
  'operation_ParentId:string, operation_SyntheticSource:string, session_Id:string, user_Id:string, ' +
  'user_AuthenticatedId:string, user_AccountId:string, application_Version:string, client_Type:string, ' +
  'client_Model:string, client_OS:string, client_IP:string, client_City:string, client_StateOrProvince:string, ' +
  'client_CountryOrRegion:string, client_Browser:string, cloud_RoleName:string, cloud_RoleInstance:string, ' +
  'appId:string, appName:string, iKey:string, sdkVersion:string, itemId:string, itemCount:int';

/** Columns shared by every Application Insights table in a Log Analytics workspace. */
const LOG_ANALYTICS_COMMON =
  'TenantId:string, Properties:dynamic, Measurements:dynamic, OperationName:string, OperationId:string, ' +
  'ParentId:string, SyntheticSource:string, SessionId:string, UserId:string, UserAuthenticatedId:string, ' +
  'UserAccountId:string, AppVersion:string, AppRoleName:string, AppRoleInstance:string, ClientType:string, ' +
  'ClientModel:string, ClientOS:string, ClientIP:string, ClientCity:string, ClientStateOrProvince:string, ' +
  'ClientCountryOrRegion:string, ClientBrowser:string, ResourceGUID:string, IKey:string, SDKVersion:string, ' +
  'ItemCount:int, ReferencedItemId:string, ReferencedType:string, SourceSystem:string, Type:string, ' +
  '_ResourceId:string, _BilledSize:real, _IsBillable:string';

/** Table name → schema, per database. */
export const KQL_SCHEMAS = {
  /** Queries scoped to an Application Insights component (alert rules, workbooks, the portal's Logs there). */
  applicationInsights: {
    traces: `timestamp:datetime, message:string, severityLevel:int, customMeasurements:dynamic, ${APP_INSIGHTS_COMMON}`,
    requests:
      'timestamp:datetime, id:string, source:string, name:string, url:string, success:string, resultCode:string, ' +
      `duration:real, performanceBucket:string, customMeasurements:dynamic, ${APP_INSIGHTS_COMMON}`,
    availabilityResults:
      'timestamp:datetime, id:string, name:string, location:string, success:string, message:string, size:real, ' +
      `duration:real, performanceBucket:string, customMeasurements:dynamic, ${APP_INSIGHTS_COMMON}`,
  },
  /** Queries in the Log Analytics workspace behind the component. */
  logAnalytics: {
    AppTraces: `TimeGenerated:datetime, Message:string, SeverityLevel:int, ${LOG_ANALYTICS_COMMON}`,
    AppRequests:
      'TimeGenerated:datetime, Id:string, Source:string, Name:string, Url:string, Success:bool, ResultCode:string, ' +
      `DurationMs:real, PerformanceBucket:string, ${LOG_ANALYTICS_COMMON}`,
    AppAvailabilityResults:
      'TimeGenerated:datetime, Id:string, Name:string, Location:string, Success:bool, Message:string, Size:real, ' +
      `DurationMs:real, PerformanceBucket:string, ${LOG_ANALYTICS_COMMON}`,
  },
} as const;

export type KqlDatabase = keyof typeof KQL_SCHEMAS;

export interface KqlProblem {
  readonly severity: string;
  readonly code: string;
  readonly message: string;
  /** The query text the diagnostic points at (a few characters around it when it is empty). */
  readonly at: string;
}

export interface KqlCheck {
  readonly database: KqlDatabase;
  /** Errors and warnings of the parser and the semantic analysis; empty when the query is clean. */
  readonly problems: readonly KqlProblem[];
  /** Column names of the query's result, when it is a table. */
  readonly resultColumns: readonly string[];
}

const globalsByDatabase = new Map<KqlDatabase, unknown>();

function globalsFor(database: KqlDatabase): unknown {
  let globals = globalsByDatabase.get(database);
  if (globals === undefined) {
    const kusto = loadKusto();
    const tables = Object.entries(KQL_SCHEMAS[database]).map(([name, schema]) =>
      kusto.Symbols.TableSymbol.From(`(${schema})`).WithName(name),
    );
    globals = kusto.GlobalState.Default.WithDatabase(new kusto.Symbols.DatabaseSymbol.ctor(database, tables));
    globalsByDatabase.set(database, globals);
  }
  return globals;
}

function listOf<T>(list: BridgeList<T>): T[] {
  return Array.from({ length: list.Count }, (_, index) => list.getItem(index));
}

/** Parses and analyses `query` against one database's tables. */
export function checkKql(query: string, database: KqlDatabase): KqlCheck {
  const code = loadKusto().KustoCode.ParseAndAnalyze(query, globalsFor(database));
  const problems = listOf(code.GetDiagnostics())
    // Suggestions (`Severity: Suggestion`) are style advice, not defects.
    .filter((diagnostic) => diagnostic.Severity === 'Error' || diagnostic.Severity === 'Warning')
    .map((diagnostic) => ({
      severity: diagnostic.Severity,
      code: diagnostic.Code,
      message: diagnostic.Message,
      at: query.slice(Math.max(0, diagnostic.Start - 10), diagnostic.Start + Math.max(diagnostic.Length, 10)),
    }));
  const resultType = code.ResultType as KustoTableSymbol | null;
  const resultColumns = resultType && 'Columns' in resultType ? listOf(resultType.Columns).map((c) => c.Name) : [];
  return { database, problems, resultColumns };
}

/**
 * Checks `query` against the database it is written for: the Log Analytics one when it reads a
 * workspace table (`AppTraces`, ...), else the Application Insights one.
 */
export function checkKqlForItsDatabase(query: string): KqlCheck {
  const workspaceTables = Object.keys(KQL_SCHEMAS.logAnalytics).join('|');
  const database: KqlDatabase = new RegExp(`\\b(${workspaceTables})\\b`).test(query)
    ? 'logAnalytics'
    : 'applicationInsights';
  return checkKql(query, database);
}
