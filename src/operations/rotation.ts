import type { AlertSink } from '../contract/alert';
import { AlertDeduper } from './alerts';
import type { BrokerConfig } from '../contract/config';
import type { ClientCredential, CredentialProperties, CredentialSource } from '../credentials/credentialTypes';
import { type BrokerErrorCode, isBrokerError, isTransient } from '../contract/errors';
import { describeError, type Logger } from '../platform/logger';
import type { TokenEngine } from '../tokens/tokenEngine';

export type RotationOutcome = 'none' | 'rotated' | 'failed';

export interface RotationResult {
  readonly outcome: RotationOutcome;
  /** The version that was tried (rotated or failed). */
  readonly candidateVersion?: string;
  /** The version in use before the attempt. */
  readonly previousVersion?: string;
  readonly error?: unknown;
}

export interface CredentialRotator {
  /**
   * When `latest` is an enabled version other than the one in use: reads it, acquires a token for
   * the default scope with it, and only then makes it current (`CredentialRotated`). When that
   * fails the old credential stays in use (`CredentialRotationFailed`). Expected failures
   * (BrokerError) are reported in the result, never thrown.
   * @throws only what is not a BrokerError (a bug), after keeping the old credential.
   */
  rotateIfNewer(latest: CredentialProperties): Promise<RotationResult>;
}

export interface CredentialRotatorOptions {
  config: Pick<BrokerConfig, 'credentialName' | 'defaultScope'>;
  engine: Pick<TokenEngine, 'tryCredential'>;
  credentialSource: Pick<CredentialSource, 'peek' | 'load' | 'promote'>;
  alerts: AlertSink;
  logger: Logger;
  /** Runs in a row a candidate may fail for a passing reason before it is alerted; default 3. */
  transientFailuresBeforeAlert?: number;
}

/**
 * Safe rotation: a new credential version is tried before it is used, so callers never see a
 * failed request because of a bad new value. A candidate that fails stays a candidate: it is tried
 * again on every run (one Key Vault read and one Entra request) until it works or a newer version
 * replaces it; `CredentialRotationFailed` is raised once per candidate version.
 */
export function createCredentialRotator(options: CredentialRotatorOptions): CredentialRotator {
  const { config, engine, credentialSource, alerts } = options;
  const logger = options.logger.child('Rotation');
  const transientLimit = Math.max(1, options.transientFailuresBeforeAlert ?? 3);
  const dedup = new AlertDeduper();
  const transientFailures = new Map<string, number>();

  const rotateIfNewer = async (latest: CredentialProperties): Promise<RotationResult> => {
    if (latest.kind === 'federated') return { outcome: 'none' };
    const inUse = credentialSource.peek();
    // Nothing loaded yet: the first load picks the latest enabled version anyway.
    if (inUse === undefined) return { outcome: 'none' };
    const previousVersion = inUse.properties.version;
    const candidateVersion = latest.version;
    if (candidateVersion === previousVersion) return { outcome: 'none' };
    // `latest` is Key Vault's current version (the credential source resolves same-second ties
    // with Key Vault itself), and the candidate is tried before it is used: switching is safe.
    if (!latest.enabled) {
      if (dedup.first(`skipped:${candidateVersion}`)) {
        logger.info('CredentialRotationSkipped', {
          credentialName: config.credentialName,
          version: candidateVersion,
          inUseVersion: previousVersion,
          reason: 'The newest version in Key Vault is disabled; the version in use stays.',
        });
      }
      return { outcome: 'none' };
    }

    let candidate: ClientCredential | undefined;
    try {
      candidate = await credentialSource.load(candidateVersion);
      await engine.tryCredential(candidate, config.defaultScope);
    } catch (error) {
      reportFailure(candidateVersion, previousVersion, error);
      if (!isBrokerError(error)) throw error;
      return { outcome: 'failed', candidateVersion, previousVersion, error };
    }

    credentialSource.promote(candidate);
    transientFailures.delete(candidateVersion);
    alerts.raise({
      event: 'CredentialRotated',
      severity: 'info',
      credentialName: config.credentialName,
      version: candidate.properties.version,
      expiresOn: isoOrUndefined(candidate.properties.expiresOnMs),
      message:
        `The broker now uses version ${candidate.properties.version} of '${config.credentialName}' ` +
        `(it acquired a token with it first); version ${previousVersion} is no longer used by this instance.`,
      details: { previousVersion, kind: candidate.kind },
    });
    return { outcome: 'rotated', candidateVersion: candidate.properties.version, previousVersion };
  };

  const reportFailure = (candidateVersion: string, previousVersion: string, error: unknown): void => {
    const code: BrokerErrorCode = isBrokerError(error) ? error.code : 'internal';
    // A transient failure (Entra or Key Vault briefly unavailable) says nothing about the candidate
    // itself: it is tried again on the next run and alerted only when this keeps happening.
    const passing = isTransient(code);
    const failuresInARow = (transientFailures.get(candidateVersion) ?? 0) + 1;
    if (passing) transientFailures.set(candidateVersion, failuresInARow);
    logger.warn('CredentialRotationAttemptFailed', {
      credentialName: config.credentialName,
      version: candidateVersion,
      inUseVersion: previousVersion,
      failuresInARow: passing ? failuresInARow : undefined,
      error: describeError(error),
    });
    if (passing && failuresInARow < transientLimit) return;
    if (!dedup.first(`CredentialRotationFailed:${candidateVersion}`)) return;
    const details: Record<string, string | number | boolean> = { code, inUseVersion: previousVersion };
    if (isBrokerError(error) && error.aadsts !== undefined) details.aadsts = error.aadsts;
    alerts.raise({
      event: 'CredentialRotationFailed',
      severity: 'error',
      credentialName: config.credentialName,
      version: candidateVersion,
      message:
        `Key Vault holds a newer version ${candidateVersion} of '${config.credentialName}', but the broker could ` +
        `not get a token with it (${code}); it keeps using version ${previousVersion}. Check that the new value ` +
        'is registered on the app registration; the broker tries it again on every warm-up run.',
      details,
    });
  };

  return { rotateIfNewer };
}

function isoOrUndefined(ms: number | undefined): string | undefined {
  return ms === undefined ? undefined : new Date(ms).toISOString();
}
