/** An AlertSink that keeps every alert raised, for assertions. */
import type { Alert, AlertEventName, AlertSink } from '../../../src/contract/alert';

export class RecordingAlerts implements AlertSink {
  readonly alerts: Alert[] = [];

  raise(alert: Alert): void {
    this.alerts.push(alert);
  }

  /** Event names in the order raised. */
  events(): AlertEventName[] {
    return this.alerts.map((alert) => alert.event);
  }

  ofEvent(event: AlertEventName): Alert[] {
    return this.alerts.filter((alert) => alert.event === event);
  }

  clear(): void {
    this.alerts.length = 0;
  }
}
