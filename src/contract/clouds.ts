/**
 * What differs between the Microsoft clouds (public, US Government, China) and matters to the
 * broker: which authority hosts are Microsoft's, the token-exchange audience of each, and the Key
 * Vault hosts and token scope of each.
 */

/** Login hosts of the Microsoft clouds, for which MSAL's instance discovery works and protects us. */
const MICROSOFT_AUTHORITY_HOSTS = new Set([
  'login.microsoftonline.com',
  'login.microsoftonline.us',
  'login.chinacloudapi.cn',
  'login.partner.microsoftonline.cn',
]);

/** Whether `authorityHost` is the login host of a Microsoft cloud. */
export function isMicrosoftAuthorityHost(authorityHost: string): boolean {
  return MICROSOFT_AUTHORITY_HOSTS.has(new URL(authorityHost).hostname.toLowerCase());
}

/**
 * The audience a federated credential on the app registration must list: each Microsoft cloud has
 * its own (public `api://AzureADTokenExchange`, US Government `…USGov`, China `…China`). Derived
 * from the authority host's domain; any other host (the emulator, a cloud not listed) gets the
 * public value.
 */
export function tokenExchangeAudienceFor(authorityHost: string): string {
  const host = new URL(authorityHost).hostname.toLowerCase();
  if (host.endsWith('.microsoftonline.us')) return 'api://AzureADTokenExchangeUSGov';
  if (host.endsWith('.cn')) return 'api://AzureADTokenExchangeChina';
  return 'api://AzureADTokenExchange';
}

/** Vault host suffixes of the Azure clouds; the suffix without its dot is also the cloud's Key Vault resource. */
const AZURE_VAULT_SUFFIXES = [
  '.vault.azure.net',
  '.vault.azure.cn',
  '.vault.usgovcloudapi.net',
  '.vault.microsoftazure.de',
];

function vaultSuffixOf(vaultUrl: string): string | undefined {
  const host = new URL(vaultUrl).hostname.toLowerCase();
  return AZURE_VAULT_SUFFIXES.find((suffix) => host.endsWith(suffix));
}

/** Whether `url` is a vault of an Azure cloud (`*.vault.azure.net` and the sovereign clouds' equivalents). */
export function isAzureVaultUrl(url: string): boolean {
  return vaultSuffixOf(url) !== undefined;
}

/**
 * The scope Key Vault's challenge names for `vaultUrl`: the vault's cloud (`https://vault.azure.net`,
 * `https://vault.azure.cn`, …), and the public cloud's for any other host (the emulator names it too).
 */
export function keyVaultScope(vaultUrl: string): string {
  return `https://${(vaultSuffixOf(vaultUrl) ?? '.vault.azure.net').slice(1)}/.default`;
}
