import type { AlertEventName, AlertSeverity, AlertSink } from '../contract/alert';
import type { ClientCredential } from '../credentials/credentialTypes';
import type { BrokerErrorCode } from '../contract/errors';
import { KEY_VAULT_REFUSAL_CODES } from './failureMemory';
import { describeError, type Logger } from '../platform/logger';

const KEY_VAULT_TRANSIENT_CODES: ReadonlySet<BrokerErrorCode> = new Set<BrokerErrorCode>([
  'keyvault_throttled',
  'keyvault_transient',
  'keyvault_timeout',
]);

/** The alert an acquisition failing with a given code raises. */
export interface FailureAlert {
  readonly event: AlertEventName;
  readonly severity: AlertSeverity;
  readonly message: string;
  /** Whether the alert names the credential version in use (Key Vault failures have none worth naming). */
  readonly aboutCredential: boolean;
}

/**
 * The alert for an acquisition that failed with `code`; undefined when the failure needs none
 * (transient Entra failures and throttling: retries and health cover them, an alert would be noise).
 */
export function alertForFailure(code: BrokerErrorCode): FailureAlert | undefined {
  switch (code) {
    case 'entra_configuration':
      return {
        event: 'EntraConfigurationError',
        severity: 'error',
        message: 'Entra refused the token request as misconfigured (tenant, app registration or scope).',
        aboutCredential: true,
      };
    case 'token_lifetime_too_short':
      return {
        event: 'EntraConfigurationError',
        severity: 'error',
        message: 'Entra issues tokens shorter-lived than TOKEN_MIN_LIFETIME_SECONDS.',
        aboutCredential: true,
      };
    case 'entra_credential_rejected':
      return {
        event: 'CredentialRejected',
        severity: 'error',
        message: 'Entra rejects the client credential, and Key Vault has no other version that works.',
        aboutCredential: true,
      };
    case 'entra_credential_expired':
      return {
        event: 'CredentialExpired',
        severity: 'error',
        message: 'Entra reports the client credential as expired, and Key Vault has no newer version.',
        aboutCredential: true,
      };
    default:
      if (KEY_VAULT_REFUSAL_CODES.has(code)) {
        return {
          event: 'KeyVaultAccessFailed',
          severity: 'error',
          message: 'The client credential could not be read from Key Vault, or cannot be used.',
          aboutCredential: false,
        };
      }
      if (KEY_VAULT_TRANSIENT_CODES.has(code)) {
        return {
          event: 'KeyVaultAccessFailed',
          severity: 'warning',
          message: 'Key Vault did not answer the read of the client credential.',
          aboutCredential: false,
        };
      }
      return undefined;
  }
}

export interface AcquisitionAlertsOptions {
  sink: AlertSink;
  /** CLIENT_CREDENTIAL_NAME, named in every alert. */
  credentialName: string;
  /** Already scoped to the owning component. */
  logger: Logger;
}

/** Raises the token engine's alerts; a failing sink is logged, never allowed to fail the token path. */
export class AcquisitionAlerts {
  private readonly sink: AlertSink;
  private readonly credentialName: string;
  private readonly logger: Logger;

  constructor(options: AcquisitionAlertsOptions) {
    this.sink = options.sink;
    this.credentialName = options.credentialName;
    this.logger = options.logger;
  }

  /** Raises the alert {@link alertForFailure} gives for `code`, if any. Never throws. */
  acquisitionFailed(
    code: BrokerErrorCode,
    inUse: ClientCredential | undefined,
    details: Record<string, string | number | boolean>,
  ): void {
    const alert = alertForFailure(code);
    if (!alert) return;
    this.raise(alert.event, alert.severity, alert.message, alert.aboutCredential ? inUse : undefined, details);
  }

  /** A reloaded credential worked after Entra refused the one in use, and is now in use. Never throws. */
  credentialRotated(credential: ClientCredential, scope: string): void {
    this.raise(
      'CredentialRotated',
      'info',
      'Entra refused the credential in use; the latest version from Key Vault works and is now in use.',
      credential,
      { scope },
    );
  }

  private raise(
    event: AlertEventName,
    severity: AlertSeverity,
    message: string,
    credential: ClientCredential | undefined,
    details: Record<string, string | number | boolean>,
  ): void {
    try {
      this.sink.raise({
        event,
        severity,
        credentialName: this.credentialName,
        version: credential?.properties.version,
        message,
        details,
      });
    } catch (error) {
      // The sink must not throw; if it does, the token path must not fail because of it.
      this.logger.error('AlertSinkFailed', { event, error: describeError(error) });
    }
  }
}
