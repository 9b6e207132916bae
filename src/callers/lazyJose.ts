import type * as JoseLibModule from './joseLib';

export type JoseLib = typeof JoseLibModule;

let loaded: JoseLib | undefined;

/**
 * jose (`./joseLib`), loaded on the first call (see joseLib.ts for why). Synchronous `require`
 * so that callers stay synchronous; the deployable build turns it into `require("./joseLib.js")`.
 * @throws Error only if the module itself cannot be loaded (a broken deployment).
 */
export function jose(): JoseLib {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  loaded ??= require('./joseLib') as JoseLib;
  return loaded;
}
