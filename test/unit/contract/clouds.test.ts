import { isAzureVaultUrl, isMicrosoftAuthorityHost, keyVaultScope } from '../../../src/contract/clouds';

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

describe('keyVaultScope', () => {
  it("names the vault's own cloud, and the public cloud for any other host", () => {
    expect(keyVaultScope('https://kv-broker.vault.azure.net')).toBe('https://vault.azure.net/.default');
    expect(keyVaultScope('https://kv.vault.azure.cn/')).toBe('https://vault.azure.cn/.default');
    expect(keyVaultScope('https://kv.vault.usgovcloudapi.net')).toBe('https://vault.usgovcloudapi.net/.default');
    expect(keyVaultScope('https://127.0.0.1:8443')).toBe('https://vault.azure.net/.default');
  });
});
