/**
 * The Azure SDK classes (and node-forge) the broker constructs at run time, gathered in one module
 * that is loaded on first use through `azureSdk()` in `lazyAzureSdk.ts`, never imported directly.
 * They are most of the app's code (msal-node, the Key Vault clients, node-forge: about 1.5 MB
 * bundled) and none of them is needed to register the functions, so a cold instance no longer
 * compiles and runs them before it can index its functions. The deployable build bundles this
 * module as its own file beside the app bundle (`dist/app/azureSdk.js`, see dev/build.mjs).
 * Re-exports only: nothing of `src/` may be imported here, or the two bundles would each hold a
 * copy of it (two BrokerError classes, and `instanceof` would fail across them).
 */
export {
  ClientAssertionCredential,
  ClientCertificateCredential,
  ClientSecretCredential,
  ManagedIdentityCredential,
} from '@azure/identity';
export { CertificateClient } from '@azure/keyvault-certificates';
export { SecretClient } from '@azure/keyvault-secrets';
export { default as forge } from 'node-forge';
