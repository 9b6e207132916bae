/**
 * What every part of `npm run bench` shares: statistics, the broker in the local host as a child
 * process, timed token requests, and a process's memory from /proc.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { findFreePort } from '../dev/ports';
import { repoRoot } from '../dev/stackFile';

export const root = repoRoot();
// BENCH_APP: another bundle (only to check the harness itself); default the deployable app.
export const appPath = process.env.BENCH_APP
  ? path.resolve(process.env.BENCH_APP)
  : path.join(root, 'dist', 'app', 'index.js');
const hostPath = path.join(root, 'dist', 'dev', 'host.js');

export function log(message: string): void {
  process.stderr.write(`bench: ${message}\n`);
}

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** The `p`-th percentile (0-100) by nearest rank; NaN for no values. */
export function percentile(values: number[], p: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

export const round = (value: number, digits = 2): number => Number(value.toFixed(digits));

export interface BrokerProcess {
  child: ChildProcess;
  url: string;
  /** Milliseconds from spawn to the host's `listening` message. */
  startMs: number;
  stop(): Promise<void>;
}

/**
 * The bundled app in the local development host, in a child process with `env` only (as in Azure,
 * nothing of the bench's environment leaks in). Resolves once the host listens. Its stdout (the
 * broker's JSON log lines) goes to `onStdout` when given, else nowhere: the bench measures the
 * broker, not a terminal.
 */
export async function startBroker(
  env: Record<string, string>,
  options: { onStdout?: (chunk: string) => void; nodeArgs?: string[] } = {},
): Promise<BrokerProcess> {
  const port = await findFreePort();
  const started = process.hrtime.bigint();
  const child = spawn(process.execPath, [...(options.nodeArgs ?? []), hostPath, appPath, '--no-startup-timers'], {
    env: { ...env, PORT: String(port) },
    stdio: ['ignore', options.onStdout ? 'pipe' : 'ignore', 'pipe', 'ipc'],
  });
  if (options.onStdout) child.stdout!.on('data', (chunk: Buffer) => options.onStdout!(chunk.toString()));
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-4000);
  });
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`broker did not start: ${stderr}`)), 30_000);
    child.on('message', (m: { event?: string; url?: string }) => {
      if (m.event === 'listening' && m.url) {
        clearTimeout(timer);
        resolve(m.url);
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`broker exited (${code}): ${stderr}`));
    });
  });
  return {
    child,
    url,
    startMs: Number(process.hrtime.bigint() - started) / 1e6,
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  };
}

/** Peak resident memory (VmHWM) of a process, in MB. */
export function peakRssMb(pid: number): number {
  return procStatusMb(pid, 'VmHWM');
}

/** Current resident memory (VmRSS) of a process, in MB; NaN when it is gone. */
export function rssMb(pid: number): number {
  return procStatusMb(pid, 'VmRSS');
}

function procStatusMb(pid: number, field: string): number {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const match = new RegExp(`${field}:\\s+(\\d+) kB`).exec(status);
    return match ? round(Number(match[1]) / 1024, 1) : NaN;
  } catch {
    return NaN;
  }
}

/**
 * One `POST /api/token`; resolves with its status (0 on a network error), wall time in ms and the
 * response headers (empty on a network error).
 */
export function postToken(
  url: string,
  callerToken: string,
  body: string,
  agent: http.Agent,
): Promise<{ status: number; ms: number; headers: http.IncomingHttpHeaders }> {
  return new Promise((resolve) => {
    const started = process.hrtime.bigint();
    const elapsed = (): number => Number(process.hrtime.bigint() - started) / 1e6;
    const req = http.request(
      `${url}/api/token`,
      {
        method: 'POST',
        agent,
        headers: {
          authorization: `Bearer ${callerToken}`,
          'content-type': 'application/x-www-form-urlencoded',
          'content-length': String(Buffer.byteLength(body)),
        },
      },
      (res) => {
        res.resume();
        res.on('end', () => resolve({ status: res.statusCode ?? 0, ms: elapsed(), headers: res.headers }));
      },
    );
    req.on('error', () => resolve({ status: 0, ms: elapsed(), headers: {} }));
    req.end(body);
  });
}

/** The form body of a token request for `scope`. */
export function tokenForm(scope: string): string {
  return new URLSearchParams({ scope }).toString();
}
