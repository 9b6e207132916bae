/** Helpers for the tests that run `npm start` (dist/dev/start.js) as a child process. */
import { type ChildProcess, spawn } from 'node:child_process';
import path from 'node:path';

export const root = path.resolve(__dirname, '..', '..');
export const startScript = path.join(root, 'dist', 'dev', 'start.js');

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
export function runStart(env: Record<string, string>): Started {
  let output = '';
  let stdout = '';
  const child = spawn(process.execPath, [startScript], {
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
