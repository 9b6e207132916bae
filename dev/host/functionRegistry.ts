/**
 * A stand-in for the Functions host's virtual module `@azure/functions-core`. `@azure/functions`
 * calls `registerFunction` for every `app.http`/`app.timer`; we capture those registrations so the
 * local host and the tests run exactly what the app's entry point registers.
 */
export interface CapturedBinding {
  readonly type: string;
  readonly direction?: string;
  readonly name?: string;
  readonly [key: string]: unknown;
}

export interface CapturedFunction {
  readonly name: string;
  readonly bindings: Readonly<Record<string, CapturedBinding>>;
  readonly handler: (...args: unknown[]) => unknown;
}

export const capturedFunctions: CapturedFunction[] = [];

export const functionsCoreStub = {
  version: 'entra-token-broker-local-host',
  hostVersion: '4.0.0-local',
  setProgrammingModel(): void {},
  getProgrammingModel(): undefined {
    return undefined;
  },
  registerFunction(
    metadata: { name: string; bindings: Record<string, CapturedBinding> },
    handler: (...args: unknown[]) => unknown,
  ): { dispose(): void } {
    const captured: CapturedFunction = { name: metadata.name, bindings: metadata.bindings, handler };
    capturedFunctions.push(captured);
    return {
      dispose() {
        const index = capturedFunctions.indexOf(captured);
        if (index >= 0) capturedFunctions.splice(index, 1);
      },
    };
  },
  registerHook(): { dispose(): void } {
    return { dispose() {} };
  },
};
