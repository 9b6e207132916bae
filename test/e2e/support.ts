/** Helpers for the tests that run `npm start` (dist/dev/start.js) or `func start` as a child process. */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import path from 'node:path';
import { findFunc, type FuncLocation } from '../../dev/funcHost';

export const root = path.resolve(__dirname, '..', '..');
export const startScript = path.join(root, 'dist', 'dev', 'start.js');

/** The real Functions runtime (`func`: FUNC, PATH, ../shared/tools/functions-host), if there is one. */
export const func: FuncLocation | undefined = findFunc(process.env, root);

/**
 * A describe block that runs on the real Functions runtime. Without a `func` it is skipped — except
 * under CI=true, where a missing runtime is a failure: CI must not pass without these tests.
 */
export function describeOnFunc(name: string, body: (func: FuncLocation) => void): void {
  if (func) {
    const found = func;
    describe(name, () => body(found));
  } else if (process.env.CI === 'true') {
    describe(name, () => {
      it('has the real Functions runtime to run on', () => {
        throw new Error(
          'CI=true and no func was found (FUNC, PATH, ../shared/tools/functions-host/func): ' +
            'the real-runtime tests must run in CI',
        );
      });
    });
  } else {
    describe.skip(`${name} (no func found: FUNC, PATH or ../shared/tools/functions-host)`, () => {
      it('needs func', () => undefined);
    });
  }
}

/** `npm run build` (dev/build.mjs), once per test file that needs fresh bundles. */
export function buildAll(): void {
  const build = spawnSync(process.execPath, [path.join(root, 'dev', 'build.mjs')], { cwd: root, encoding: 'utf8' });
  if (build.status !== 0) throw new Error(`npm run build failed:\n${build.stdout}${build.stderr}`);
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Polls `probe` every 100 ms until it returns something other than undefined. */
export async function waitFor<T>(what: string, probe: () => T | undefined, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

export interface Started {
  child: ChildProcess;
  /** Standard output and standard error, interleaved as they arrived. */
  output: () => string;
  /** Standard output alone. */
  stdout: () => string;
  exited: Promise<number | null>;
}

/** Runs `npm start`'s built script with emulator ports 0 and only PATH plus `env` in its environment. */
export function runStart(env: Record<string, string>, args: readonly string[] = []): Started {
  let output = '';
  let stdout = '';
  const child = spawn(process.execPath, [startScript, ...args], {
    cwd: root,
    env: { PATH: process.env.PATH, EMULATOR_PORT: '0', EMULATOR_THIRD_PARTY_PORT: '0', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout.on('data', (chunk: Buffer) => {
    output += chunk.toString();
    stdout += chunk.toString();
  });
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { child, output: () => output, stdout: () => stdout, exited };
}
