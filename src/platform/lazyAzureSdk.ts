import type * as AzureSdkModule from './azureSdk';

export type AzureSdk = typeof AzureSdkModule;

let loaded: AzureSdk | undefined;

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
