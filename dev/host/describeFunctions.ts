import type { CapturedBinding, CapturedFunction } from './functionRegistry';

/** What a registration means to a host: enough to route, schedule and compare two loads of the app. */
export type FunctionSummary =
  | { name: string; trigger: 'http'; route: string; methods: string[]; authLevel: string }
  | { name: string; trigger: 'timer'; schedule: string; runOnStartup: boolean }
  | { name: string; trigger: string };

/** The trigger binding (direction `in`, type ending in `Trigger`) of a captured function. */
export function triggerBinding(fn: CapturedFunction): CapturedBinding | undefined {
  return Object.values(fn.bindings).find(
    (binding) => binding.direction === 'in' && typeof binding.type === 'string' && binding.type.endsWith('Trigger'),
  );
}

/** Summarises registrations the way the Functions host reads them (route defaults to the name). */
export function describeFunctions(functions: readonly CapturedFunction[]): FunctionSummary[] {
  return functions.map((fn) => {
    const trigger = triggerBinding(fn);
    if (trigger?.type === 'httpTrigger') {
      const methods = Array.isArray(trigger.methods) ? (trigger.methods as unknown[]).map((m) => String(m)) : [];
      return {
        name: fn.name,
        trigger: 'http',
        route: typeof trigger.route === 'string' && trigger.route !== '' ? trigger.route : fn.name,
        methods: methods.map((m) => m.toUpperCase()).sort(),
        authLevel: typeof trigger.authLevel === 'string' ? trigger.authLevel : 'anonymous',
      };
    }
    if (trigger?.type === 'timerTrigger') {
      return {
        name: fn.name,
        trigger: 'timer',
        schedule: String(trigger.schedule),
        runOnStartup: trigger.runOnStartup === true,
      };
    }
    return { name: fn.name, trigger: String(trigger?.type ?? 'unknown') };
  });
}
