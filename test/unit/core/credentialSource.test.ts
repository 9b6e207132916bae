import type { TokenCredential } from '@azure/identity';
import { parseConfig } from '../../../src/core/config';
import { createKeyVaultCredentialSource, isAzureVaultUrl } from '../../../src/core/credentialSource';
import { silentLogger } from '../../../src/core/logger';
import { SecretRegistry } from '../../../src/core/redact';
import { isMicrosoftAuthorityHost } from '../../../src/core/tokenClient';

const settings = {
  ENTRA_TENANT_ID: '11111111-1111-4111-8111-111111111111',
  ENTRA_CLIENT_ID: '22222222-2222-4222-8222-222222222222',
  KEY_VAULT_URL: 'https://kv.vault.azure.net',
  TOKEN_SCOPES: 'api://33333333-3333-4333-8333-333333333333/.default',
  CALLER_AUDIENCES: 'api://entra-token-broker',
  CALLER_POLICY: '{}',
};

describe('createKeyVaultCredentialSource (federated)', () => {
  it('never touches Key Vault or the managed identity: constant credential, nothing to expire', async () => {
    const managedIdentity: TokenCredential = { getToken: jest.fn() };
    const source = createKeyVaultCredentialSource({
      config: parseConfig({ ...settings, CLIENT_CREDENTIAL_KIND: 'federated', CLIENT_CREDENTIAL_NAME: 'unused' }),
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
      config: parseConfig(settings),
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
