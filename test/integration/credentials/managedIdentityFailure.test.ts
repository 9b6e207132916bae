import { startEmulator, type RunningEmulator } from '../../../dev/emulator';
import { createKeyVaultCredentialSource } from '../../../src/credentials/credentialSource';
import type { CredentialSource } from '../../../src/credentials/credentialTypes';
import { createManagedIdentityCredential } from '../../../src/credentials/managedIdentity';
import { SecretRegistry } from '../../../src/platform/redact';
import { ErrorLog, configFor, useIdentityEnv } from './support';
import { createRecordingLogger } from '../../support/fakes/recordingLogger';

// Its own file: MSAL caches managed identity tokens process-wide, so these faults only show while
// no Key Vault token has been cached in this jest worker.
describe('credentials: the managed identity failing under a Key Vault read', () => {
  let emulator: RunningEmulator;
  let restoreEnv: () => void;
  const errors = new ErrorLog();

  beforeAll(async () => {
    emulator = await startEmulator();
    restoreEnv = useIdentityEnv(emulator);
  });
  afterAll(async () => {
    restoreEnv();
    await emulator.close();
  });

  function newSource(timeoutMs: number): CredentialSource {
    const config = configFor(emulator);
    return createKeyVaultCredentialSource({
      config,
      managedIdentity: createManagedIdentityCredential({ config, tlsCaPem: emulator.caPem }),
      logger: createRecordingLogger().logger,
      secrets: new SecretRegistry(),
      tlsCaPem: emulator.caPem,
      timeoutMs,
    });
  }

  it('a hung managed identity endpoint → keyvault_timeout (our deadline covers the token fetch inside the SDK)', async () => {
    emulator.setFault({ target: 'msi', mode: 'hang' });
    await errors.expectCode(newSource(300).current(), 'keyvault_timeout');
    emulator.clearFaults();
  });

  it('a managed identity endpoint answering 500 → keyvault_transient (managed_identity_unavailable)', async () => {
    emulator.setFault({ target: 'msi', mode: 'status', status: 500 });
    const error = await errors.expectCode(newSource(5000).current(), 'keyvault_transient');
    expect(error.upstreamError).toBe('managed_identity_unavailable');
    emulator.clearFaults();
  });
});
