import type { AccessToken, TokenCredential } from '@azure/identity';
import { createRemoteJWKSet, customFetch, jwtVerify } from 'jose';
import { startEmulator, type RunningEmulator } from '../../../dev/emulator';
import type { BrokerConfig } from '../../../src/contract/config';
import { createKeyVaultCredentialSource } from '../../../src/credentials/credentialSource';
import type { CredentialSource } from '../../../src/credentials/credentialTypes';
import { createManagedIdentityCredential } from '../../../src/credentials/managedIdentity';
import { SecretRegistry } from '../../../src/platform/redact';
import { createTlsFetch } from '../../../src/platform/tlsFetch';
import { createEntraTokenClient, TOKEN_EXCHANGE_SCOPE } from '../../../src/tokens/tokenClient';
import type { Logger } from '../../../src/platform/logger';
import { ErrorLog, configFor, useIdentityEnv } from './support';
import { createRecordingLogger } from '../../support/fakes/recordingLogger';

describe('credentials (federated): managed identity token as client assertion', () => {
  let emulator: RunningEmulator;
  let restoreEnv: () => void;
  let config: BrokerConfig;
  let lines: string[];
  let logger: Logger;
  let managedIdentity: TokenCredential;
  let source: CredentialSource;
  const secrets = new SecretRegistry();
  const errors = new ErrorLog();
  const assertions: string[] = [];

  beforeAll(async () => {
    emulator = await startEmulator({ credentialKind: 'federated' });
    restoreEnv = useIdentityEnv(emulator);
    config = configFor(emulator);
    const captured = createRecordingLogger();
    lines = captured.lines;
    logger = captured.logger;
    const real = createManagedIdentityCredential({ config, tlsCaPem: emulator.caPem });
    // Wraps the real managed identity to remember the assertions it hands out (for the leak check).
    managedIdentity = {
      getToken: async (scopes, options) => {
        const token = await real.getToken(scopes, options);
        if (token) assertions.push(token.token);
        return token;
      },
    };
    source = createKeyVaultCredentialSource({ config, managedIdentity, logger, secrets, tlsCaPem: emulator.caPem });
  });

  afterAll(async () => {
    restoreEnv();
    await emulator.close();
  });

  beforeEach(() => emulator.reset());

  it('the credential source reads nothing from Key Vault and has nothing to expire', async () => {
    const credential = await source.current();
    expect(credential).toEqual({
      kind: 'federated',
      properties: expect.objectContaining({
        kind: 'federated',
        version: 'federated',
        enabled: true,
        expiresOnMs: undefined,
      }),
    });
    expect(source.peek()).toBe(credential);
    expect(await source.latestProperties()).toEqual(credential.properties);
    expect(await source.load()).toBe(credential);
    expect(emulator.stats().keyVaultReads).toEqual({});
  });

  it('acquires a token with the managed identity assertion; jose verifies it', async () => {
    const client = createEntraTokenClient({ config, logger, tlsCaPem: emulator.caPem, managedIdentity });
    const token = await client.acquire(await source.current(), emulator.scopes[0]!);
    const jwks = createRemoteJWKSet(new URL(emulator.jwksUri), { [customFetch]: createTlsFetch(emulator.caPem) });
    const { payload } = await jwtVerify(token.accessToken, jwks, {
      audience: emulator.thirdPartyApi.audience,
      algorithms: ['RS256'],
    });
    expect(payload.azp).toBe(emulator.broker.clientId);
    expect(assertions.length).toBeGreaterThan(0);
  });

  it('an assertion that matches no federated credential → entra_configuration (AADSTS70021)', async () => {
    const stranger: TokenCredential = {
      getToken: async (): Promise<AccessToken> => {
        const now = Math.floor(Date.now() / 1000);
        const token = await emulator.signJwt({
          iss: `https://login.microsoftonline.com/${emulator.tenantId}/v2.0`,
          sub: '00000000-0000-4000-8000-000000000000',
          aud: 'api://AzureADTokenExchange',
          iat: now,
          nbf: now,
          exp: now + 600,
        });
        assertions.push(token);
        return { token, expiresOnTimestamp: (now + 600) * 1000 };
      },
    };
    const client = createEntraTokenClient({ config, logger, tlsCaPem: emulator.caPem, managedIdentity: stranger });
    const error = await errors.expectCode(
      client.acquire(await source.current(), emulator.scopes[0]!),
      'entra_configuration',
    );
    expect(error.aadsts).toBe(70021);
  });

  it('the managed identity failing → entra_transient (managed_identity_unavailable)', async () => {
    const failing: TokenCredential = {
      getToken: () => Promise.reject(Object.assign(new Error('IMDS down'), { name: 'CredentialUnavailableError' })),
    };
    const client = createEntraTokenClient({ config, logger, tlsCaPem: emulator.caPem, managedIdentity: failing });
    const error = await errors.expectCode(
      client.acquire(await source.current(), emulator.scopes[0]!),
      'entra_transient',
    );
    expect(error.upstreamError).toBe('managed_identity_unavailable');
  });

  it('the managed identity hanging → entra_timeout at our deadline', async () => {
    const hanging: TokenCredential = { getToken: () => new Promise<AccessToken | null>(() => undefined) };
    const client = createEntraTokenClient({ config, logger, tlsCaPem: emulator.caPem, managedIdentity: hanging });
    await errors.expectCode(
      client.acquire(await source.current(), emulator.scopes[0]!, { timeoutMs: 200 }),
      'entra_timeout',
    );
  });

  it('asks the managed identity for the token-exchange audience', async () => {
    const asked: string[] = [];
    const spy: TokenCredential = {
      getToken: async (scopes, options) => {
        asked.push(...(Array.isArray(scopes) ? scopes : [scopes]));
        return managedIdentity.getToken(scopes, options);
      },
    };
    const client = createEntraTokenClient({ config, logger, tlsCaPem: emulator.caPem, managedIdentity: spy });
    await client.acquire(await source.current(), emulator.scopes[0]!);
    // MSAL calls the assertion callback more than once per request; the managed identity's own
    // token cache absorbs that. Every call must ask for the token-exchange audience only.
    expect(asked.length).toBeGreaterThan(0);
    expect(new Set(asked)).toEqual(new Set([TOKEN_EXCHANGE_SCOPE]));
  });

  it('no assertion ever appears in a log line or an error', () => {
    expect(assertions.length).toBeGreaterThan(1);
    const everything = `${lines.join('\n')}\n${errors.text()}`;
    for (const assertion of assertions) {
      expect(everything).not.toContain(assertion);
      expect(everything).not.toContain(assertion.split('.')[1]!);
    }
    expect(everything).not.toContain('client_assertion=');
  });
});
