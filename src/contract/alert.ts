/** Stable alert event names; Application Insights alert rules match on them. */
export type AlertEventName =
  | 'SecretExpiryWarning'
  | 'SecretExpired'
  | 'SecretExpiryUnknown'
  | 'SecretDisabled'
  | 'TokenRefreshFailing'
  | 'CredentialRotated'
  | 'CredentialRotationFailed'
  | 'CredentialRejected'
  | 'CredentialExpired'
  | 'EntraConfigurationError'
  | 'KeyVaultAccessFailed'
  | 'CredentialNotExpiring';

export type AlertSeverity = 'info' | 'warning' | 'error';

export interface Alert {
  readonly event: AlertEventName;
  readonly severity: AlertSeverity;
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

/** Receives alerts; must not throw and must not block the caller (webhooks are sent in the background). */
export interface AlertSink {
  raise(alert: Alert): void;
}
