/** Helpers for the tests that run `npm start` (dist/dev/start.js) or `func start` as a child process. */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { findFunc, type FuncLocation } from '../../dev/funcHost';
import { findFreePort } from '../../dev/ports';
import type { StackFile } from '../../dev/stackFile';

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

/** A stack as `npm start` runs it, in a state directory of its own, with its stack.json. */
export interface StartedStack {
  start: Started;
  stack: StackFile;
  /** The broker's port. */
  port: number;
}

/**
 * Builds the bundles (dev/build.mjs), then runs `npm start`'s script with BROKER_STATE_DIR `dir`, a
 * free broker port, `env` and `args` (`--dev-host`), until stack.json is written and the banner printed.
 * @throws Error when the build fails or npm start exits early (with its output)
 */
export async function startStack(
  dir: string,
  env: Record<string, string> = {},
  args: readonly string[] = [],
): Promise<StartedStack> {
  buildAll();
  const port = await findFreePort();
  const start = runStart({ PORT: String(port), BROKER_STATE_DIR: dir, ...env }, args);
  const stackFile = path.join(dir, 'stack.json');
  const stack = await waitFor(
    'stack.json',
    () => {
      if (start.child.exitCode !== null) throw new Error(`npm start exited early:\n${start.output()}`);
      return existsSync(stackFile) ? (JSON.parse(readFileSync(stackFile, 'utf8')) as StackFile) : undefined;
    },
    90_000,
  );
  // stack.json is written just before the banner: wait for the banner too.
  await waitFor('the banner', () => (/broker pid \d+/.test(start.output()) ? true : undefined), 10_000);
  return { start, stack, port };
}

/**
 * Stops a stack started by `startStack` (if it still runs) and waits for it to exit: SIGTERM first,
 * because npm start then stops everything it started (the emulator, func and the host under it,
 * Azurite) — a SIGKILL would leave those running with no parent. SIGKILL only if it has not exited
 * after `graceMs`.
 */
export async function killStack(start: Started | undefined, graceMs = 20_000): Promise<void> {
  if (!start || start.child.exitCode !== null) return;
  start.child.kill('SIGTERM');
  let timer: NodeJS.Timeout | undefined;
  const stopped = await Promise.race([
    start.exited.then(() => true),
    new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), graceMs))),
  ]);
  clearTimeout(timer);
  if (!stopped) {
    start.child.kill('SIGKILL');
    await start.exited;
  }
}
