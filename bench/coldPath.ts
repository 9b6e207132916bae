/**
 * Cold instance, first caller: a fresh broker, every upstream (Entra, managed identity, Key Vault,
 * the caller key set) `latencyMs` away, and the first token request sent the moment the broker can
 * be reached.
 *
 *   coldFirstTokenMs     that request's wall time to its 200 (median of `runs` fresh brokers)
 *   coldChainMs          the unavoidable chain × latencyMs: the upstream round trips that must follow
 *                        one another for the first token. A Key Vault credential: managed identity
 *                        token → Key Vault read → Entra token (3); federated: managed identity
 *                        assertion → Entra token (2). The caller key set, the Key Vault challenge and
 *                        Entra's metadata have no input from these, so they can run beside them.
 *   coldPathRatio        coldFirstTokenMs ÷ coldChainMs (target ≤ 1.3)
 *   coldNoLatencyMs      the same first request with no latency injected: what is CPU (loading
 *                        the SDKs, TLS set-up, MSAL's first use), measured beside
 *   coldFirstUpstreamMs  in the runs with latency: from sending that request to the arrival of the
 *                        broker's first upstream request at the emulator — the CPU that must come
 *                        before the chain can start (loading the SDK and Node.js's undici)
 *
 * These come from the local development host, where the request goes out the moment the host
 * listens, right after it loaded the app: nothing of the broker's start-up work can hide behind a
 * host start there, so it is the strict measure of the broker's own cold path.
 *
 * On the real runtime, when a `func` is found (same runs, interleaved):
 *   realHostColdFirstTokenMs   the bench picks the port, starts `func` with the broker and from
 *                              that moment sends `POST /api/token` every 5 ms; answers the app did
 *                              not write (connection refused, the host's 404 before the functions
 *                              are indexed) do not count; the first one it wrote is the first
 *                              request and its wall time the figure. The broker gets exactly the
 *                              head start a cold instance gives it (the host's own start after the
 *                              app registered its functions) and not a moment more.
 *   realBaselineColdFirstMs    the same for the fixture app (fixtureApp.ts): what the first
 *                              request on a fresh host costs any app (the host's and worker's
 *                              first invocation)
 *   realHostColdExtraMs        the median of (broker − fixture) over the paired runs: what the
 *                              broker adds to a cold instance's first request
 *   realHostColdPathRatio      realHostColdFirstTokenMs ÷ coldChainMs
 */
import http from 'node:http';
import path from 'node:path';
import { findFreePort } from '../dev/ports';
import { type FuncLocation, startFuncHost } from '../dev/funcHost';
import type { RunningEmulator } from '../dev/emulator/index';
import { log, median, postToken, root, round, startBroker, tokenForm } from './support';

export interface ColdPathOptions {
  emulator: RunningEmulator;
  brokerEnv: Record<string, string>;
  callerToken: string;
  scope: string;
  latencyMs: number;
  runs: number;
  /** The real Functions runtime (realHostCold*); skipped without it. */
  func?: FuncLocation;
  /** The fixture app (realHost.ts buildHostApps) for realBaselineColdFirstMs. */
  fixtureApp?: string;
}

/** Round trips that must follow one another for the first token with this credential kind. */
export function unavoidableRoundTrips(kind: string): number {
  return kind === 'federated' ? 2 : 3;
}

/** The first request's wall time, and when the first upstream request arrived, both from its sending. */
async function localHostFirstToken(
  options: ColdPathOptions,
  latencyMs: number,
): Promise<{ ms: number; firstUpstreamMs: number }> {
  const { emulator } = options;
  emulator.reset();
  if (latencyMs > 0) emulator.setLatency({ target: 'all', ms: latencyMs });
  let firstUpstreamAt = NaN;
  const stopWatching = emulator.onUpstreamRequest(({ atMs }) => {
    if (Number.isNaN(firstUpstreamAt)) firstUpstreamAt = atMs;
  });
  const broker = await startBroker(options.brokerEnv);
  try {
    const agent = new http.Agent({ keepAlive: false });
    const sentAt = performance.now();
    const { status, ms } = await postToken(broker.url, options.callerToken, tokenForm(options.scope), agent);
    agent.destroy();
    if (status !== 200) throw new Error(`the first request on a cold broker answered ${status}`);
    return { ms, firstUpstreamMs: firstUpstreamAt - sentAt };
  } finally {
    stopWatching();
    emulator.clearLatency();
    await broker.stop();
  }
}

/**
 * Whether the app wrote this answer: every answer of the broker (docs/openapi.yaml) and of the
 * fixture carries Cache-Control: no-store; the host's own answers before the app is indexed do not.
 */
function fromApp(answer: { headers: http.IncomingHttpHeaders }): boolean {
  return answer.headers['cache-control'] === 'no-store';
}

const PROBE_INTERVAL_MS = 5;

/** A fresh `func` serving `appFile`, probed from its spawn on: the first answer the app wrote. */
async function realHostFirstTokenMs(options: ColdPathOptions, func: FuncLocation, appFile?: string): Promise<number> {
  const { emulator } = options;
  emulator.reset();
  emulator.setLatency({ target: 'all', ms: options.latencyMs });
  const port = await findFreePort();
  const url = `http://127.0.0.1:${port}`;
  const body = tokenForm(options.scope);
  let stopProbing = false;
  const probe = (async () => {
    // A new connection per probe: one the host accepted before it was ready must not be reused.
    const agent = new http.Agent({ keepAlive: false });
    while (!stopProbing) {
      const answer = await postToken(url, options.callerToken, body, agent);
      if (fromApp(answer)) return answer;
      await new Promise((resolve) => setTimeout(resolve, PROBE_INTERVAL_MS));
    }
    return undefined;
  })();
  let host: Awaited<ReturnType<typeof startFuncHost>> | undefined;
  try {
    host = await startFuncHost({
      func,
      root,
      port,
      appFile,
      stageDir: path.join(root, 'dist', 'bench', 'func-cold'),
      settings: options.brokerEnv,
      readyTimeoutMs: 120_000,
    });
    const first = await probe;
    if (first === undefined || first.status !== 200) {
      throw new Error(`the first token request on a cold instance on func answered ${first?.status}`);
    }
    return first.ms;
  } finally {
    stopProbing = true;
    emulator.clearLatency();
    await host?.stop();
  }
}

export async function measureColdPath(options: ColdPathOptions): Promise<Record<string, number>> {
  log(`cold instance, first caller, ${options.latencyMs} ms per upstream request (${options.runs} fresh brokers)…`);
  const roundTrips = unavoidableRoundTrips(options.emulator.broker.credentialKind);
  const chainMs = roundTrips * options.latencyMs;
  const withLatency: number[] = [];
  const firstUpstream: number[] = [];
  const without: number[] = [];
  const real: number[] = [];
  const baseline: number[] = [];
  // Interleaved, so that a noisy neighbour slows all alike.
  for (let i = 0; i < options.runs; i += 1) {
    const first = await localHostFirstToken(options, options.latencyMs);
    withLatency.push(first.ms);
    firstUpstream.push(first.firstUpstreamMs);
    without.push((await localHostFirstToken(options, 0)).ms);
    if (options.func) {
      real.push(await realHostFirstTokenMs(options, options.func));
      if (options.fixtureApp) baseline.push(await realHostFirstTokenMs(options, options.func, options.fixtureApp));
    }
  }
  const firstMs = median(withLatency);
  return {
    coldFirstTokenMs: round(firstMs, 1),
    coldChainRoundTrips: roundTrips,
    coldChainMs: chainMs,
    coldPathRatio: round(firstMs / chainMs),
    coldNoLatencyMs: round(median(without), 1),
    coldFirstUpstreamMs: round(median(firstUpstream), 1),
    ...(real.length > 0
      ? { realHostColdFirstTokenMs: round(median(real), 1), realHostColdPathRatio: round(median(real) / chainMs) }
      : {}),
    ...(baseline.length > 0
      ? {
          realBaselineColdFirstMs: round(median(baseline), 1),
          realHostColdExtraMs: round(median(real.map((ms, i) => ms - baseline[i]!)), 1),
        }
      : {}),
  };
}
