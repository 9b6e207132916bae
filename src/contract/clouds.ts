/**
 * What differs between the Microsoft clouds (public, US Government, China) and matters to the
 * broker: which authority hosts are Microsoft's, and the token-exchange audience of each.
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
