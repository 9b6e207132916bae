/**
 * A closed-loop load over keep-alive connections: `connections` loops, each sending its next
 * request as soon as the previous answered, on one socket of its own. Latencies are taken with
 * the high-resolution clock (autocannon's histogram has whole milliseconds, too coarse for a
 * 3 ms request whose ratio to a baseline is the figure).
 */
import http from 'node:http';
import { percentile, postToken } from './support';

export interface LoadResult {
  latenciesMs: number[];
  /** When each of `latenciesMs` was sent (Date.now(), to line up with the broker's log times). */
  sentAtMs: number[];
  rps: number;
  /** Requests answered with anything but 200, or not answered. */
  failures: number;
}

export async function keepAliveLoad(options: {
  url: string;
  callerToken: string;
  body: string;
  connections: number;
  durationMs: number;
}): Promise<LoadResult> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: options.connections });
  const latenciesMs: number[] = [];
  const sentAtMs: number[] = [];
  let failures = 0;
  const started = process.hrtime.bigint();
  const endAt = started + BigInt(Math.round(options.durationMs * 1e6));
  const loop = async (): Promise<void> => {
    while (process.hrtime.bigint() < endAt) {
      const atMs = Date.now();
      const { status, ms } = await postToken(options.url, options.callerToken, options.body, agent);
      if (status === 200) {
        latenciesMs.push(ms);
        sentAtMs.push(atMs);
      } else failures += 1;
    }
  };
  await Promise.all(Array.from({ length: options.connections }, loop));
  const elapsedS = Number(process.hrtime.bigint() - started) / 1e9;
  agent.destroy();
  return { latenciesMs, sentAtMs, rps: latenciesMs.length / elapsedS, failures };
}

/** p50, p99 and requests/s of several runs taken together. */
export function summarizeLoad(runs: LoadResult[]): { p50Ms: number; p99Ms: number; rps: number; failures: number } {
  const all = runs.flatMap((run) => run.latenciesMs);
  return {
    p50Ms: percentile(all, 50),
    p99Ms: percentile(all, 99),
    rps: runs.reduce((sum, run) => sum + run.rps, 0) / runs.length,
    failures: runs.reduce((sum, run) => sum + run.failures, 0),
  };
}
