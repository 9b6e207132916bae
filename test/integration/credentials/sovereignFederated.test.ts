/**
 * Federated mode in a sovereign cloud (docs/azure-fidelity.md, "sovereign clouds"): the app's
 * federated credential names that cloud's token-exchange audience (US Government here), the
 * broker asks its managed identity for a token for that audience (ENTRA_TOKEN_EXCHANGE_AUDIENCE,
 * or derived from the authority host), and the token carries the token-exchange app's ID as `aud`.
 * Its own file: MSAL pins the first managed identity endpoint in a process-wide static.
 */
import { decodeJwt } from 'jose';
import { startEmulator, type RunningEmulator } from '../../../dev/emulator';
import { createKeyVaultCredentialSource } from '../../../src/credentials/credentialSource';
import { createManagedIdentityCredential } from '../../../src/credentials/managedIdentity';
import { SecretRegistry } from '../../../src/platform/redact';
import { createEntraTokenClient } from '../../../src/tokens/tokenClient';
import { configFor, useIdentityEnv } from './support';
import { createRecordingLogger } from '../../support/fakes/recordingLogger';

describe('credentials (federated): a US Government token-exchange audience', () => {
  let emulator: RunningEmulator;
  let restoreEnv: () => void;

  beforeAll(async () => {
    emulator = await startEmulator({
      credentialKind: 'federated',
      tokenExchangeAudience: 'api://AzureADTokenExchangeUSGov',
    });
    restoreEnv = useIdentityEnv(emulator);
  });

  afterAll(async () => {
    restoreEnv();
    await emulator.close();
  });

  it('gets a token with the managed identity token for that audience as its assertion', async () => {
    const config = configFor(emulator);
    expect(config.tokenExchangeAudience).toBe('api://AzureADTokenExchangeUSGov');
    const { logger } = createRecordingLogger();
    const real = createManagedIdentityCredential({ config, tlsCaPem: emulator.caPem });
    const assertions: string[] = [];
    const managedIdentity = {
      getToken: async (scopes: string | string[]) => {
        const token = await real.getToken(scopes);
        if (token) assertions.push(token.token);
        return token;
      },
    };
    const source = createKeyVaultCredentialSource({
      config,
      managedIdentity,
      logger,
      secrets: new SecretRegistry(),
      tlsCaPem: emulator.caPem,
    });
    const client = createEntraTokenClient({ config, logger, tlsCaPem: emulator.caPem, managedIdentity });
    const acquired = await client.acquire(await source.current(), emulator.scopes[0]!);
    expect(decodeJwt(acquired.accessToken)).toMatchObject({ azp: emulator.broker.clientId });
    expect(assertions).not.toHaveLength(0);
    expect(decodeJwt(assertions[0]!).aud).toBe('fb60f99c-7a34-4190-8149-302f77469936');
  });
});
