import type * as AzureSdkModule from './azureSdk';
import type * as CertificateSdkModule from './certificateSdk';

export type AzureSdk = typeof AzureSdkModule;
export type CertificateSdk = typeof CertificateSdkModule;

let loaded: AzureSdk | undefined;
let certificateLoaded: CertificateSdk | undefined;

/**
 * The Azure SDK module (`./azureSdk`), loaded on the first call: the first token or Key Vault
 * request, not the module load of the app (see azureSdk.ts for why). Synchronous `require` so
 * that callers stay synchronous; the deployable build turns it into `require("./azureSdk.js")`,
 * the second file of dist/app.
 * @throws Error only if the module itself cannot be loaded (a broken deployment).
 */
export function azureSdk(): AzureSdk {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  loaded ??= require('./azureSdk') as AzureSdk;
  return loaded;
}

/**
 * The certificate client and node-forge (`./certificateSdk`), loaded on the first call: only a
 * broker with `CLIENT_CREDENTIAL_KIND=certificate` ever makes one. Built as `certificateSdk.js`.
 * @throws Error only if the module itself cannot be loaded (a broken deployment).
 */
export function certificateSdk(): CertificateSdk {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  certificateLoaded ??= require('./certificateSdk') as CertificateSdk;
  return certificateLoaded;
}
