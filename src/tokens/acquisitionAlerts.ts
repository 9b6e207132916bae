import { alertKindOf } from '../contract/alertCatalog';
import type { AlertKind, AlertSink } from '../contract/alert';
import type { ClientCredential } from '../credentials/credentialTypes';
import { type BrokerError, type BrokerErrorCode, errorSpec, type FailureAlertSpec } from '../contract/errors';
import { describeError, type Logger } from '../platform/logger';

/**
 * AADSTS codes saying that no federated identity credential on the app registration matches the
 * managed identity's token: 70021 (none at all), 700211 (issuer), 700212 (audience), 700213 (subject).
 */
const FEDERATED_MISMATCH_AADSTS: ReadonlySet<number> = new Set([70021, 700211, 700212, 700213]);

const FEDERATED_MISMATCH_MESSAGE =
  "Entra found no federated identity credential on the app registration that matches the managed identity's token. " +
  'Check the federated credential: issuer https://login.microsoftonline.com/<tenant ID>/v2.0, subject the ' +
  "managed identity's object (principal) ID, audience api://AzureADTokenExchange.";

/**
 * The alert for an acquisition that failed with `code` (the error table's `alert`); undefined when
 * the failure needs none (transient Entra failures and throttling: retries and health cover them).
 * A federated credential mismatch (`aadsts`) gets advice about the federated credential.
 */
export function alertForFailure(code: BrokerErrorCode, aadsts?: number): FailureAlertSpec | undefined {
  const alert = errorSpec(code).alert;
  if (!alert) return undefined;
  if (code === 'entra_configuration' && aadsts !== undefined && FEDERATED_MISMATCH_AADSTS.has(aadsts)) {
    return { ...alert, message: FEDERATED_MISMATCH_MESSAGE };
  }
  return alert;
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

  /** Raises the alert {@link alertForFailure} gives for `failure`, if any. Never throws. */
  acquisitionFailed(
    failure: BrokerError,
    inUse: ClientCredential | undefined,
    details: Record<string, string | number | boolean>,
  ): void {
    const alert = alertForFailure(failure.code, failure.aadsts);
    if (!alert) return;
    this.raise(alert, alert.message, alert.aboutCredential ? inUse : undefined, details);
  }

  /** A reloaded credential worked after Entra refused the one in use, and is now in use. Never throws. */
  credentialRotated(credential: ClientCredential, scope: string): void {
    this.raise(
      { event: 'CredentialRotated', severity: 'info' },
      'Entra refused the credential in use; the latest version from Key Vault works and is now in use.',
      credential,
      { scope },
    );
  }

  private raise(
    kind: AlertKind,
    message: string,
    credential: ClientCredential | undefined,
    details: Record<string, string | number | boolean>,
  ): void {
    try {
      this.sink.raise({
        ...alertKindOf(kind),
        credentialName: this.credentialName,
        version: credential?.properties.version,
        message,
        details,
      });
    } catch (error) {
      // The sink must not throw; if it does, the token path must not fail because of it.
      this.logger.error('AlertSinkFailed', { event: kind.event, error: describeError(error) });
    }
  }
}
