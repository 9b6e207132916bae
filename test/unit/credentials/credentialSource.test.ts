import type { TokenCredential } from '@azure/identity';
import { createKeyVaultCredentialSource } from '../../../src/credentials/credentialSource';
import { silentLogger } from '../../support/silentLogger';
import { SecretRegistry } from '../../../src/platform/redact';
import { fakeConfig } from '../../support/fakes/fakeConfig';

/** An Azure vault host: the real SDK protections stay on. */
const KEY_VAULT_URL = 'https://kv.vault.azure.net';

describe('createKeyVaultCredentialSource (federated)', () => {
  it('never touches Key Vault or the managed identity: constant credential, nothing to expire', async () => {
    const managedIdentity: TokenCredential = { getToken: jest.fn() };
    const source = createKeyVaultCredentialSource({
      config: fakeConfig({ KEY_VAULT_URL, CLIENT_CREDENTIAL_KIND: 'federated', CLIENT_CREDENTIAL_NAME: 'unused' }),
      managedIdentity,
      logger: silentLogger,
      secrets: new SecretRegistry(),
    });
    const credential = await source.current();
    expect(credential.kind).toBe('federated');
    expect(credential.properties).toEqual({
      name: 'unused',
      kind: 'federated',
      version: 'federated',
      enabled: true,
      expiresOnMs: undefined,
      notBeforeMs: undefined,
      createdOnMs: undefined,
      updatedOnMs: undefined,
    });
    expect(source.peek()).toBe(credential);
    expect(await source.load('anything')).toBe(credential);
    expect(await source.latestProperties()).toBe(credential.properties);
    source.promote(credential);
    expect(managedIdentity.getToken).not.toHaveBeenCalled();
  });

  it('for secret/certificate, peek() is empty until something is loaded (no I/O on construction)', () => {
    const managedIdentity: TokenCredential = { getToken: jest.fn() };
    const source = createKeyVaultCredentialSource({
      config: fakeConfig({ KEY_VAULT_URL }),
      managedIdentity,
      logger: silentLogger,
      secrets: new SecretRegistry(),
    });
    expect(source.peek()).toBeUndefined();
    expect(managedIdentity.getToken).not.toHaveBeenCalled();
  });
});
