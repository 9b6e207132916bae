/**
 * The Azure SDK classes the broker constructs at run time, gathered in one module that is loaded on
 * first use through `azureSdk()` in `lazyAzureSdk.ts`, never imported directly. They are most of the
 * app's code (the managed identity, msal-node, the Key Vault secrets client: about 1 MB bundled)
 * and none of them is needed to register the functions, so a cold instance no longer compiles and
 * runs them before it can index its functions. What only certificates need is in certificateSdk.ts. The deployable build bundles this
 * module as its own file beside the app bundle (`dist/app/azureSdk.js`, see dev/build.mjs).
 * Re-exports only: nothing of `src/` may be imported here, or the two bundles would each hold a
 * copy of it (two BrokerError classes, and `instanceof` would fail across them).
 */
export { ManagedIdentityCredential } from '@azure/identity';
export { ConfidentialClientApplication } from '@azure/msal-node';
export { SecretClient } from '@azure/keyvault-secrets';
