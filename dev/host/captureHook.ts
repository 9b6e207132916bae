import Module, { createRequire } from 'node:module';
import path from 'node:path';
import { type CapturedFunction, capturedFunctions, functionsCoreStub } from './functionRegistry';

type ModuleLoad = (request: string, parent: unknown, isMain: boolean) => unknown;

let hookInstalled = false;

/**
 * Makes `require('@azure/functions-core')` return the capturing stub. In Azure the Functions host
 * injects that virtual module; the bundled app keeps it external precisely so this hook (locally) or
 * the real host (in Azure) can supply it. Idempotent.
 */
export function installFunctionsCoreHook(): void {
  if (hookInstalled) return;
  const internals = Module as unknown as { _load: ModuleLoad };
  const originalLoad = internals._load;
  internals._load = function loadWithFunctionsCore(this: unknown, request, parent, isMain) {
    if (request === '@azure/functions-core') return functionsCoreStub;
    return originalLoad.call(this, request, parent, isMain);
  };
  hookInstalled = true;
}

/**
 * Loads a function app (normally the bundle `dist/app/index.js`) exactly as the Functions worker
 * would — by requiring its entry point — and returns the functions it registered while loading.
 * @throws whatever the app throws while loading (e.g. a `config_invalid` BrokerError).
 */
export function loadAppCapturing(appPath: string): CapturedFunction[] {
  installFunctionsCoreHook();
  const absolute = path.resolve(appPath);
  const before = capturedFunctions.length;
  createRequire(absolute)(absolute);
  return capturedFunctions.slice(before);
}
