/**
 * Cold instance, first caller: a fresh broker process, every upstream (Entra, managed identity, Key
 * Vault, the caller key set) `latencyMs` away, and one request sent the moment the host listens.
 *
 *   coldFirstTokenMs     that request's wall time to its 200 (median of `runs` fresh processes)
 *   coldChainMs          the unavoidable chain × latencyMs: the upstream round trips that must follow
 *                        one another for the first token. A Key Vault credential: managed identity
 *                        token → Key Vault read → Entra token (3); federated: managed identity
 *                        assertion → Entra token (2). The caller key set, the Key Vault challenge and
 *                        Entra's metadata have no input from these, so they can run beside them.
 *   coldPathRatio        coldFirstTokenMs ÷ coldChainMs (target ≤ 1.3)
 *   coldNoLatencyMs      the same first request with no latency injected: what the broker itself
 *                        adds (loading the SDKs, TLS set-up), measured beside
 */
import http from 'node:http';
import type { RunningEmulator } from '../dev/emulator/index';
import { log, median, postToken, round, startBroker, tokenForm } from './support';

export interface ColdPathOptions {
  emulator: RunningEmulator;
  brokerEnv: Record<string, string>;
  callerToken: string;
  scope: string;
  latencyMs: number;
  runs: number;
}

/** Round trips that must follow one another for the first token with this credential kind. */
export function unavoidableRoundTrips(kind: string): number {
  return kind === 'federated' ? 2 : 3;
}

async function firstTokenMs(options: ColdPathOptions, latencyMs: number): Promise<number> {
  const { emulator } = options;
  emulator.reset();
  if (latencyMs > 0) emulator.setLatency({ target: 'all', ms: latencyMs });
  const broker = await startBroker(options.brokerEnv);
  try {
    const agent = new http.Agent({ keepAlive: false });
    const { status, ms } = await postToken(broker.url, options.callerToken, tokenForm(options.scope), agent);
    agent.destroy();
    if (status !== 200) throw new Error(`the first request on a cold broker answered ${status}`);
    return ms;
  } finally {
    emulator.clearLatency();
    await broker.stop();
  }
}

export async function measureColdPath(options: ColdPathOptions): Promise<Record<string, number>> {
  log(`cold instance, first caller, ${options.latencyMs} ms per upstream request (${options.runs} fresh brokers)…`);
  const withLatency: number[] = [];
  const without: number[] = [];
  // Interleaved, so that a noisy neighbour slows both alike.
  for (let i = 0; i < options.runs; i += 1) {
    withLatency.push(await firstTokenMs(options, options.latencyMs));
    without.push(await firstTokenMs(options, 0));
  }
  const roundTrips = unavoidableRoundTrips(options.emulator.broker.credentialKind);
  const chainMs = roundTrips * options.latencyMs;
  const firstMs = median(withLatency);
  return {
    coldFirstTokenMs: round(firstMs, 1),
    coldChainRoundTrips: roundTrips,
    coldChainMs: chainMs,
    coldPathRatio: round(firstMs / chainMs),
    coldNoLatencyMs: round(median(without), 1),
  };
}
