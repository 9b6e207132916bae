import { AcquisitionAlerts, alertForFailure } from '../../../src/tokens/acquisitionAlerts';
import type { ClientCredential } from '../../../src/credentials/credentialTypes';
import { RecordingAlerts } from '../../support/fakes/recordingAlerts';
import { createRecordingLogger } from '../../support/fakes/recordingLogger';

const credential = {
  kind: 'secret',
  secret: 'unused',
  properties: { version: 'v7' },
} as ClientCredential;

describe('alertForFailure', () => {
  it('maps refusals to their alert events and raises nothing for transient Entra failures', () => {
    expect(alertForFailure('entra_configuration')).toMatchObject({
      event: 'EntraConfigurationError',
      severity: 'error',
    });
    expect(alertForFailure('token_lifetime_too_short')).toMatchObject({ event: 'EntraConfigurationError' });
    expect(alertForFailure('entra_credential_rejected')).toMatchObject({ event: 'CredentialRejected' });
    expect(alertForFailure('entra_credential_expired')).toMatchObject({ event: 'CredentialExpired' });
    expect(alertForFailure('keyvault_forbidden')).toMatchObject({ event: 'KeyVaultAccessFailed', severity: 'error' });
    expect(alertForFailure('keyvault_timeout')).toMatchObject({ event: 'KeyVaultAccessFailed', severity: 'warning' });
    expect(alertForFailure('entra_transient')).toBeUndefined();
    expect(alertForFailure('entra_throttled')).toBeUndefined();
  });
});

describe('AcquisitionAlerts', () => {
  it('names the credential version for Entra refusals but not for Key Vault failures', () => {
    const sink = new RecordingAlerts();
    const alerts = new AcquisitionAlerts({
      sink,
      credentialName: 'broker-secret',
      logger: createRecordingLogger().logger,
    });
    alerts.acquisitionFailed('entra_credential_rejected', credential, { scope: 's' });
    alerts.acquisitionFailed('keyvault_forbidden', credential, { scope: 's' });
    alerts.acquisitionFailed('entra_transient', credential, { scope: 's' });

    expect(sink.alerts).toEqual([
      expect.objectContaining({ event: 'CredentialRejected', credentialName: 'broker-secret', version: 'v7' }),
      expect.objectContaining({ event: 'KeyVaultAccessFailed', version: undefined }),
    ]);
  });

  it('logs AlertSinkFailed instead of throwing when the sink throws', () => {
    const log = createRecordingLogger();
    const sink = {
      raise: (): void => {
        throw new Error('sink down');
      },
    };
    const alerts = new AcquisitionAlerts({ sink, credentialName: 'broker-secret', logger: log.logger });
    expect(() => alerts.credentialRotated(credential, 's')).not.toThrow();
    expect(log.ofEvent('AlertSinkFailed')).toEqual([expect.objectContaining({ event: 'AlertSinkFailed' })]);
  });
});
