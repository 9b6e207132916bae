/**
 * The alert catalog: every event the broker can raise, the severities it may raise it at, what it
 * means and where its runbook is. The data lives in alertCatalog.json because the deployed alert
 * rules (infra/modules/alerts.bicep, `loadJsonContent`) read the same file; the types below are
 * derived from it, so an event or a severity missing from the JSON does not compile.
 *
 * Imports nothing from the broker: this is the bottom of the dependency graph.
 */
import catalogJson from './alertCatalog.json';

export type AlertSeverity = 'info' | 'warning' | 'error';

type CatalogEvents = (typeof catalogJson)['events'];

/** Stable alert event names; the deployed alert rules match on them. */
export type AlertEventName = keyof CatalogEvents;

/** The severities the catalog allows for `E`. */
export type AlertSeverityOf<E extends AlertEventName> = keyof CatalogEvents[E]['severities'] & AlertSeverity;

/** An event with a severity it may be raised at: `{ event: 'SecretExpired', severity: 'warning' }` does not compile. */
export type AlertKind = {
  [E in AlertEventName]: { readonly event: E; readonly severity: AlertSeverityOf<E> };
}[AlertEventName];

export interface AlertCatalogEntry {
  readonly event: AlertEventName;
  /** One line, for the docs and the alert rule descriptions. */
  readonly meaning: string;
  /** Anchor of the event's runbook in docs/alerts.md. */
  readonly runbook: string;
  /** Severity → when the broker raises the event at that severity. */
  readonly severities: Readonly<Partial<Record<AlertSeverity, string>>>;
}

/** How a broker severity pages: only severities listed here reach the action group. */
export interface AlertPagingTier {
  readonly severity: AlertSeverity;
  /** Azure Monitor severity of the alert rule (0 critical … 4 verbose). */
  readonly azureMonitorSeverity: number;
  readonly displayName: string;
}

/** The catalog as a list, in file order. */
export const ALERT_CATALOG: readonly AlertCatalogEntry[] = Object.freeze(
  Object.entries(catalogJson.events).map(([event, entry]) =>
    Object.freeze({ event: event as AlertEventName, ...entry }),
  ),
);

/** The paging tiers, most severe first. */
export const ALERT_PAGING: readonly AlertPagingTier[] = Object.freeze(
  Object.entries(catalogJson.paging)
    .map(([severity, tier]) => Object.freeze({ severity: severity as AlertSeverity, ...tier }))
    .sort((a, b) => a.azureMonitorSeverity - b.azureMonitorSeverity),
);

/**
 * Just the event and severity of `kind` (which may be a larger object, such as an alert description
 * with a message): TypeScript cannot see that two fields read from one valid kind still match.
 */
export function alertKindOf(kind: AlertKind): AlertKind {
  return { event: kind.event, severity: kind.severity } as AlertKind;
}
