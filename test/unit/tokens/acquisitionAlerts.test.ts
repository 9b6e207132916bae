import { AcquisitionAlerts, alertForFailure } from '../../../src/tokens/acquisitionAlerts';
import type { ClientCredential } from '../../../src/credentials/credentialTypes';
import { BrokerError } from '../../../src/contract/errors';
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

describe('alertForFailure advice', () => {
  it.each([70021, 700211, 700212, 700213])(
    'AADSTS%p (no federated credential matches) points at the federated credential',
    (aadsts) => {
      const alert = alertForFailure('entra_configuration', aadsts);
      expect(alert).toMatchObject({ event: 'EntraConfigurationError', severity: 'error' });
      expect(alert?.message).toMatch(/federated identity credential/);
      expect(alert?.message).toContain('api://AzureADTokenExchange');
    },
  );

  it('other configuration failures keep the general advice', () => {
    expect(alertForFailure('entra_configuration', 70011)?.message).not.toMatch(/federated/);
    expect(alertForFailure('entra_configuration')?.message).toMatch(/tenant, app registration or scope/);
  });

  it('a refused managed identity raises ManagedIdentityFailed naming AZURE_CLIENT_ID', () => {
    expect(alertForFailure('managed_identity_unavailable')).toMatchObject({
      event: 'ManagedIdentityFailed',
      severity: 'error',
      message: expect.stringContaining('AZURE_CLIENT_ID') as string,
    });
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
    alerts.acquisitionFailed(new BrokerError('entra_credential_rejected', 'm'), credential, { scope: 's' });
    alerts.acquisitionFailed(new BrokerError('keyvault_forbidden', 'm'), credential, { scope: 's' });
    alerts.acquisitionFailed(new BrokerError('entra_transient', 'm'), credential, { scope: 's' });

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
