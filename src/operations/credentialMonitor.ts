import type { AlertEventName, AlertSink } from '../contract/alert';
import { AlertDeduper } from './alerts';
import { type Clock, systemClock } from '../platform/clock';
import type { BrokerConfig, CredentialKind } from '../contract/config';
import type { CredentialProperties } from '../credentials/credentialTypes';

export const DAY_MS = 86_400_000;

/** What the warm-up run reports about the credential it checked. */
export interface CredentialHealth {
  readonly kind: CredentialKind;
  readonly version?: string | undefined;
  /** ISO 8601; absent when the credential has no expiry (or cannot expire: federated). */
  readonly expiresOn?: string | undefined;
  /** Whole days left, rounded down; negative once expired. */
  readonly daysLeft?: number | undefined;
  /** Alerts this check raised (already-raised ones are not repeated). */
  readonly alerts: AlertEventName[];
}

export interface CredentialMonitor {
  /**
   * Raises the expiry/disabled alerts that `properties` (the version in use) call for and that have
   * not been raised yet for that version. Never throws, never does I/O.
   */
  check(properties: CredentialProperties): CredentialHealth;
  /** Federated credentials: one `CredentialNotExpiring` (info) per process, no warnings ever. */
  checkFederated(): CredentialHealth;
}

export interface CredentialMonitorOptions {
  config: Pick<BrokerConfig, 'credentialName' | 'credentialKind' | 'secretExpiryWarningDays'>;
  alerts: AlertSink;
  clock?: Clock;
}

/**
 * The threshold (days) whose warning is due when `msLeft` remain: the smallest threshold that is
 * larger than the time left. Only the tightest crossed threshold counts, so a secret found with 10
 * days left under thresholds 30,14,7 warns once (for 14), not for 30 and 14 together.
 * Undefined when no threshold is crossed (or the credential has already expired).
 */
export function tightestCrossedThreshold(msLeft: number, thresholdsDays: readonly number[]): number | undefined {
  if (msLeft <= 0) return undefined;
  let tightest: number | undefined;
  for (const days of thresholdsDays) {
    if (msLeft < days * DAY_MS && (tightest === undefined || days < tightest)) tightest = days;
  }
  return tightest;
}

/** Whole days left, rounded down (9.9 days → 9; expired 2 hours ago → -1). */
export function wholeDaysLeft(expiresOnMs: number, nowMs: number): number {
  return Math.floor((expiresOnMs - nowMs) / DAY_MS);
}

/**
 * Watches the expiry (secret `exp`, certificate `notAfter`) and the enabled flag of the credential
 * in use. Alerts are deduplicated in memory: `SecretExpiryWarning` once per (threshold, version),
 * and only when the threshold is tighter than the last one warned for that version;
 * `SecretExpired`, `SecretExpiryUnknown` and `SecretDisabled` once per version. Certificates use
 * the same event names with `details.kind = 'certificate'`, so one alert rule covers both.
 */
export function createCredentialMonitor(options: CredentialMonitorOptions): CredentialMonitor {
  const { config, alerts } = options;
  const clock = options.clock ?? systemClock;
  const thresholds = config.secretExpiryWarningDays;
  /** version → tightest threshold already warned for. */
  const warnedThreshold = new Map<string, number>();
  const dedup = new AlertDeduper();
  let federatedReported = false;

  const once = (event: AlertEventName, version: string): boolean => dedup.first(`${event}:${version}`);

  const check = (properties: CredentialProperties): CredentialHealth => {
    const kind = properties.kind;
    if (kind === 'federated') return checkFederated();
    const noun = kind === 'certificate' ? 'certificate' : 'client secret';
    const { version } = properties;
    const name = properties.name || config.credentialName;
    const raised: AlertEventName[] = [];
    const now = clock.now();
    const expiresOnMs = properties.expiresOnMs;
    const expiresOn = expiresOnMs === undefined ? undefined : new Date(expiresOnMs).toISOString();
    const daysLeft = expiresOnMs === undefined ? undefined : wholeDaysLeft(expiresOnMs, now);
    const base = { credentialName: name, version, expiresOn, daysLeft };

    if (!properties.enabled && once('SecretDisabled', version)) {
      raised.push('SecretDisabled');
      alerts.raise({
        ...base,
        event: 'SecretDisabled',
        severity: 'error',
        message:
          `The ${noun} '${name}' version ${version} in use is disabled in Key Vault. The broker cannot read it ` +
          'again (after a restart or on a new instance). Enable it, or add a new enabled version that is ' +
          'registered on the app registration.',
        details: { kind },
      });
    }

    if (expiresOnMs === undefined) {
      if (once('SecretExpiryUnknown', version)) {
        raised.push('SecretExpiryUnknown');
        alerts.raise({
          ...base,
          event: 'SecretExpiryUnknown',
          severity: 'warning',
          message:
            `The ${noun} '${name}' version ${version} has no expiry date in Key Vault, so the broker cannot ` +
            "warn before Entra stops accepting it. Set the expiry to the app registration's end date.",
          details: { kind },
        });
      }
    } else if (expiresOnMs <= now) {
      if (once('SecretExpired', version)) {
        raised.push('SecretExpired');
        alerts.raise({
          ...base,
          event: 'SecretExpired',
          severity: 'error',
          message:
            `The ${noun} '${name}' version ${version} expired on ${expiresOn}. Entra refuses an expired ` +
            'credential (AADSTS7000222) for every caller at once: add a new one to the app registration and ' +
            'to Key Vault now.',
          details: { kind },
        });
      }
    } else {
      const threshold = tightestCrossedThreshold(expiresOnMs - now, thresholds);
      const previous = warnedThreshold.get(version);
      if (threshold !== undefined && (previous === undefined || threshold < previous)) {
        warnedThreshold.set(version, threshold);
        raised.push('SecretExpiryWarning');
        alerts.raise({
          ...base,
          event: 'SecretExpiryWarning',
          severity: 'warning',
          message:
            `The ${noun} '${name}' version ${version} expires on ${expiresOn} (fewer than ${threshold} days ` +
            'left). Add a new version to the app registration and to Key Vault; the broker tries it and ' +
            'switches to it by itself.',
          details: { kind, thresholdDays: threshold },
        });
      }
    }
    return { kind, version, expiresOn, daysLeft, alerts: raised };
  };

  const checkFederated = (): CredentialHealth => {
    const raised: AlertEventName[] = [];
    if (!federatedReported) {
      federatedReported = true;
      raised.push('CredentialNotExpiring');
      alerts.raise({
        event: 'CredentialNotExpiring',
        severity: 'info',
        credentialName: config.credentialName,
        message:
          'The broker authenticates with its managed identity as a federated credential: there is no secret ' +
          'or certificate to expire or rotate, so no expiry alerts will be raised.',
        details: { kind: 'federated' },
      });
    }
    return { kind: 'federated', alerts: raised };
  };

  return { check, checkFederated };
}
