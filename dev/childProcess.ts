import { type ChildProcess, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';

export interface ManagedChild {
  readonly name: string;
  readonly process: ChildProcess;
  readonly pid: number;
  /** Settles when the process has exited (never rejects). */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  hasExited(): boolean;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves once the process is gone. */
  stop(graceMs?: number): Promise<void>;
}

export interface SpawnOptions {
  env: NodeJS.ProcessEnv;
  cwd?: string;
  /** Every line the child writes, stdout and stderr alike. */
  onLine(line: string, stream: 'stdout' | 'stderr'): void;
}

/**
 * Starts `node script args…` with piped output and an IPC channel. The IPC channel matters: the
 * children exit when it closes, so they cannot outlive a parent that died without cleaning up.
 */
export function spawnNode(name: string, script: string, args: readonly string[], options: SpawnOptions): ManagedChild {
  return spawnManaged(name, process.execPath, [script, ...args], options, true);
}

/**
 * Starts a program that is not one of ours (`func`, Azurite) with piped output and no IPC channel:
 * it stops when told (`stop`), or with the terminal's process group on Ctrl-C.
 */
export function spawnProgram(
  name: string,
  command: string,
  args: readonly string[],
  options: SpawnOptions,
): ManagedChild {
  return spawnManaged(name, command, args, options, false);
}

function spawnManaged(
  name: string,
  command: string,
  args: readonly string[],
  options: SpawnOptions,
  ipc: boolean,
): ManagedChild {
  const child = spawn(command, args, {
    env: options.env,
    cwd: options.cwd,
    stdio: ipc ? ['ignore', 'pipe', 'pipe', 'ipc'] : ['ignore', 'pipe', 'pipe'],
  });
  let done = false;
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('exit', (code, signal) => {
      done = true;
      resolve({ code, signal });
    });
    child.once('error', () => {
      done = true;
      resolve({ code: null, signal: null });
    });
  });
  for (const stream of ['stdout', 'stderr'] as const) {
    const source = child[stream];
    if (source) createInterface({ input: source }).on('line', (line) => options.onLine(line, stream));
  }
  return {
    name,
    process: child,
    pid: child.pid ?? -1,
    exited,
    hasExited: () => done,
    async stop(graceMs = 5000) {
      if (done) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      await exited;
      clearTimeout(timer);
    },
  };
}

/**
 * The first IPC message from `child` that `accept` turns into a value.
 * @throws Error when the child exits first or nothing arrives within `timeoutMs`.
 */
export function waitForMessage<T>(
  child: ManagedChild,
  accept: (message: unknown) => T | undefined,
  timeoutMs: number,
): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const cleanup = (): void => {
      clearTimeout(timer);
      child.process.off('message', onMessage);
    };
    const onMessage = (message: unknown): void => {
      const value = accept(message);
      if (value === undefined) return;
      cleanup();
      resolve(value);
    };
    const timer = setTimeout(() => {
      cleanup();
      reject(new Error(`${child.name} did not get ready within ${Math.round(timeoutMs / 1000)} s`));
    }, timeoutMs);
    child.process.on('message', onMessage);
    void child.exited.then(({ code, signal }) => {
      cleanup();
      reject(new Error(`${child.name} exited before it was ready (${signal ?? `exit code ${code}`})`));
    });
  });
}
