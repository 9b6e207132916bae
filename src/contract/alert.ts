import type { AlertKind } from './alertCatalog';

// The event names and the severities each may be raised at come from the alert catalog, which the
// deployed alert rules read too.
export type { AlertEventName, AlertKind, AlertSeverity } from './alertCatalog';

/** What every alert carries besides its event and severity. */
export interface AlertFields {
  readonly credentialName: string;
  readonly version?: string | undefined;
  /** ISO 8601. */
  readonly expiresOn?: string | undefined;
  readonly daysLeft?: number | undefined;
  /** Written by the broker, never upstream text. */
  readonly message: string;
  /** Error code, AADSTS number, scope and the like. */
  readonly details?: Readonly<Record<string, string | number | boolean>>;
}

/** An alert: an event at a severity the catalog allows for it, and its fields. */
export type Alert = AlertKind & AlertFields;

/** Receives alerts; must not throw and must not block the caller (webhooks are sent in the background). */
export interface AlertSink {
  raise(alert: Alert): void;
}
