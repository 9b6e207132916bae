/**
 * What only the certificate credential needs: Key Vault's certificate client and node-forge (for a
 * PKCS#12 certificate). Loaded on first use through `certificateSdk()` in `lazyAzureSdk.ts`, never
 * imported directly, and bundled as its own file (`dist/app/certificateSdk.js`): a broker with a
 * client secret or a federated credential never compiles or runs them, and loading them with the
 * rest of the Azure SDK cost every cold instance about a fifth of that load, on the first caller's
 * path. Re-exports only, for the reason azureSdk.ts gives.
 */
export { CertificateClient } from '@azure/keyvault-certificates';
export { default as forge } from 'node-forge';
