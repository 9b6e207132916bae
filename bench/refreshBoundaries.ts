/**
 * Refresh boundaries never block callers: an emulator issuing short-lived tokens (`lifetimeSeconds`),
 * every upstream `latencyMs` away, and steady cache-hit load on the broker (local host) for several
 * lifetimes, so that the broker refreshes its token many times while callers keep coming.
 *
 *   refreshCount                tokens the broker acquired during the load (its TokenAcquired lines)
 *   requestsWaitingOnUpstream   requests after warm-up whose answer waited for an upstream call:
 *                               the broker's audit line says `cacheHit: false` (target 0)
 *   refreshP99Ms / steadyP99Ms  p99 of requests sent within ±1 s of a refresh (from its start to
 *                               its end) / of all the others
 *   refreshP99DeltaMs           refreshP99Ms − steadyP99Ms (target ≤ 2)
 */
import { startEmulator } from '../dev/emulator/index';
import { keepAliveLoad } from './keepAliveLoad';
import { callerTokenTemplate, signCallerToken } from './callerTokens';
import { log, percentile, postToken, round, startBroker, tokenForm } from './support';
import http from 'node:http';

export interface RefreshOptions {
  /** Settings the broker needs besides the emulator's (CA, rate limit, warm-up schedule). */
  extraSettings: Record<string, string>;
  caPath: (caPem: string) => string;
  lifetimeSeconds: number;
  lifetimes: number;
  latencyMs: number;
  connections: number;
}

interface BrokerLine {
  event?: string;
  time?: string;
  cacheHit?: boolean;
  latencyMs?: number;
}

const WINDOW_MS = 1000;

export async function measureRefreshBoundaries(options: RefreshOptions): Promise<Record<string, number>> {
  log(
    `refresh boundaries: ${options.lifetimeSeconds} s tokens, ${options.lifetimes} lifetimes of load, ` +
      `${options.latencyMs} ms per upstream request…`,
  );
  const emulator = await startEmulator({ tokenLifetimeSeconds: options.lifetimeSeconds });
  let stdout = '';
  try {
    // A caller token outlives the run (the emulator's own would expire with the short lifetime).
    const template = await callerTokenTemplate(emulator);
    const callerToken = await signCallerToken(emulator, template, {
      appId: emulator.callers[0]!.clientId,
      lifetimeSeconds: options.lifetimeSeconds * (options.lifetimes + 2) + 60,
    });
    const settings = {
      ...emulator.brokerSettings(),
      ...options.extraSettings,
      NODE_EXTRA_CA_CERTS: options.caPath(emulator.caPem),
      // Refresh at half the lifetime, and keep serving the old token meanwhile.
      TOKEN_MIN_LIFETIME_SECONDS: String(Math.floor(options.lifetimeSeconds / 4)),
    };
    emulator.setLatency({ target: 'all', ms: options.latencyMs });
    const broker = await startBroker(settings, { onStdout: (chunk) => (stdout += chunk) });
    const body = tokenForm(emulator.scopes[0]!);
    let warmedAtMs: number;
    let sent: { atMs: number; ms: number }[];
    try {
      const first = await postToken(broker.url, callerToken, body, new http.Agent());
      if (first.status !== 200) throw new Error(`the first request answered ${first.status}`);
      await keepAliveLoad({ url: broker.url, callerToken, body, connections: options.connections, durationMs: 1000 });
      warmedAtMs = Date.now();
      const run = await keepAliveLoad({
        url: broker.url,
        callerToken,
        body,
        connections: options.connections,
        durationMs: options.lifetimes * options.lifetimeSeconds * 1000,
      });
      if (run.failures > 0) throw new Error(`${run.failures} requests failed under refresh load`);
      sent = run.latenciesMs.map((ms, i) => ({ atMs: run.sentAtMs[i]!, ms }));
    } finally {
      await broker.stop();
    }

    const lines = stdout
      .split('\n')
      .filter((line) => line.startsWith('{'))
      .map((line) => JSON.parse(line) as BrokerLine);
    const after = (line: BrokerLine): boolean => line.time !== undefined && Date.parse(line.time) >= warmedAtMs;
    const refreshes = lines
      .filter((line) => line.event === 'TokenAcquired' && after(line))
      .map((line) => ({ endMs: Date.parse(line.time!), startMs: Date.parse(line.time!) - (line.latencyMs ?? 0) }));
    const waiting = lines.filter((line) => line.event === 'TokenRequest' && after(line) && line.cacheHit === false);
    const near = (atMs: number): boolean =>
      refreshes.some((r) => atMs >= r.startMs - WINDOW_MS && atMs <= r.endMs + WINDOW_MS);
    const around = sent.filter((s) => near(s.atMs)).map((s) => s.ms);
    const elsewhere = sent.filter((s) => !near(s.atMs)).map((s) => s.ms);
    const refreshP99Ms = percentile(around, 99);
    const steadyP99Ms = percentile(elsewhere, 99);
    return {
      refreshCount: refreshes.length,
      refreshRequests: sent.length,
      requestsWaitingOnUpstream: waiting.length,
      refreshP99Ms: round(refreshP99Ms),
      steadyP99Ms: round(steadyP99Ms),
      refreshP99DeltaMs: round(refreshP99Ms - steadyP99Ms),
    };
  } finally {
    await emulator.close();
  }
}
