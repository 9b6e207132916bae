import type * as FunctionRegistry from '../../dev/host/functionRegistry';
import type { CapturedFunction } from '../../dev/host/functionRegistry';
import { DEPLOYMENT_SETTINGS } from '../support/fakes/fakeConfig';

// The settings a deployment would have, with the authority on a closed loopback port: the entry
// point fetches the caller key set in the background, and no test may reach beyond 127.0.0.1.
const settings: Record<string, string> = { ...DEPLOYMENT_SETTINGS, WARMUP_SCHEDULE: '*/30 * * * * *' };

/** Loads the entry point in a fresh module registry and returns what it registered. */
function loadEntryPoint(env: Record<string, string>): CapturedFunction[] {
  const saved = { ...process.env };
  for (const key of Object.keys(settings)) delete process.env[key];
  Object.assign(process.env, env);
  let captured: CapturedFunction[] = [];
  try {
    jest.isolateModules(() => {
      // The same module instance that the mapped @azure/functions-core stub writes to.
      // eslint-disable-next-line @typescript-eslint/no-require-imports -- a fresh registry needs require()
      captured = (require('../../dev/host/functionRegistry') as typeof FunctionRegistry).capturedFunctions;
      // eslint-disable-next-line @typescript-eslint/no-require-imports -- loading the entry point is the test
      require('../../src/index');
    });
  } finally {
    process.env = saved;
  }
  return captured;
}

let capturedFunctions: CapturedFunction[] = [];

function binding(name: string) {
  const fn = capturedFunctions.find((f) => f.name === name);
  expect(fn).toBeDefined();
  return Object.values(fn!.bindings).find((b) => b.direction === 'in')!;
}

describe('function registration (src/index.ts)', () => {
  // The entry point fetches the caller key set on the next turn of the event loop (port 9 is closed,
  // so it fails and warns); wait for that warning so that nothing logs after the file is done.
  const warnings: string[] = [];
  let warnSpy: jest.SpyInstance | undefined;
  beforeAll(() => {
    warnSpy = jest.spyOn(console, 'warn').mockImplementation((line: string) => warnings.push(line));
    capturedFunctions = loadEntryPoint(settings);
  });
  afterAll(async () => {
    for (let waited = 0; waited < 5000 && !warnings.some((line) => line.includes('CallerKeysFetchFailed'));) {
      await new Promise((resolve) => setTimeout(resolve, 20));
      waited += 20;
    }
    warnSpy?.mockRestore();
  });

  it('registers exactly token, health and warmup', () => {
    expect(capturedFunctions.map((f) => f.name).sort()).toEqual(['health', 'token', 'warmup']);
  });

  it('routes every method of /api/token to the broker, anonymously at the host level', () => {
    const trigger = binding('token');
    expect(trigger).toMatchObject({ type: 'httpTrigger', route: 'token', authLevel: 'anonymous' });
    expect(trigger.methods).toEqual(expect.arrayContaining(['GET', 'POST', 'PUT', 'DELETE', 'PATCH']));
  });

  it('registers /api/health anonymously', () => {
    expect(binding('health')).toMatchObject({ type: 'httpTrigger', route: 'health', authLevel: 'anonymous' });
  });

  it('registers the warm-up timer on WARMUP_SCHEDULE, not on startup, with the schedule monitor', () => {
    expect(binding('warmup')).toMatchObject({
      type: 'timerTrigger',
      schedule: '*/30 * * * * *',
      runOnStartup: false,
      useMonitor: true,
    });
  });

  it('with a broken configuration, still registers token and health (which answer 503), and logs the setting but not its value', () => {
    const errors: string[] = [];
    const spy = jest.spyOn(console, 'error').mockImplementation((line: string) => errors.push(line));
    // The error line repeats every few minutes for the life of the process: not in this test worker.
    jest.useFakeTimers({ doNotFake: ['nextTick', 'setImmediate', 'queueMicrotask'] });
    let registered: CapturedFunction[];
    try {
      // A module that threw here would leave the Functions host with no functions at all (404s).
      registered = loadEntryPoint({ ...settings, CALLER_POLICY: '{"oops":"XXXX-SECRET-XXXX"' });
      jest.advanceTimersByTime(5 * 60_000);
    } finally {
      jest.clearAllTimers();
      jest.useRealTimers();
      spy.mockRestore();
    }
    expect(registered.map((f) => f.name).sort()).toEqual(['health', 'token']);
    const logged = errors.join('\n');
    // Once at load, once more five minutes later.
    expect(errors.filter((line) => line.includes('"event":"ConfigurationInvalid"'))).toHaveLength(2);
    expect(logged).toContain('CALLER_POLICY');
    expect(logged).not.toContain('XXXX-SECRET-XXXX');
  });
});
