/**
 * What the broker uses of jose at run time, loaded on first use through `jose()` in `lazyJose.ts`
 * (the first caller key fetch, which the entry point starts just after registration), never
 * imported directly. Nothing of it is needed to register the functions, so a cold instance does
 * not compile it before the host can index them; the deployable build bundles it as its own file
 * (`dist/app/joseLib.js`, see dev/build.mjs). Re-exports only (see azureSdk.ts for why).
 */
export { createLocalJWKSet, createRemoteJWKSet, customFetch, errors, jwtVerify } from 'jose';
