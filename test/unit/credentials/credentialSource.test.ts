import type { TokenCredential } from '@azure/identity';
import { createKeyVaultCredentialSource, isAzureVaultUrl } from '../../../src/credentials/credentialSource';
import { silentLogger } from '../../support/silentLogger';
import { SecretRegistry } from '../../../src/platform/redact';
import { isMicrosoftAuthorityHost } from '../../../src/tokens/tokenClient';
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

describe('host checks that switch SDK protections off only off-Azure', () => {
  it.each([
    ['https://kv.vault.azure.net', true],
    ['https://KV.Vault.Azure.Net', true],
    ['https://kv.vault.azure.cn', true],
    ['https://kv.vault.usgovcloudapi.net', true],
    ['https://kv.vault.microsoftazure.de', true],
    ['https://127.0.0.1:8443', false],
    ['https://vault.azure.net.evil.example', false],
    ['https://kvvault.azure.net', false],
  ])('isAzureVaultUrl(%s) = %p', (url, expected) => {
    expect(isAzureVaultUrl(url)).toBe(expected);
  });

  it.each([
    ['https://login.microsoftonline.com', true],
    ['https://login.microsoftonline.us', true],
    ['https://login.chinacloudapi.cn', true],
    ['https://login.partner.microsoftonline.cn', true],
    ['https://127.0.0.1:8443', false],
    ['https://login.microsoftonline.com.evil.example', false],
  ])('isMicrosoftAuthorityHost(%s) = %p', (host, expected) => {
    expect(isMicrosoftAuthorityHost(host)).toBe(expected);
  });
});
