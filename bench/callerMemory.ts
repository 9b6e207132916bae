/**
 * Memory stays bounded under many callers: `apps` caller apps in CALLER_POLICY, `tokensPerApp`
 * distinct valid tokens each, every token used once, then all of them again as steady load. The
 * broker runs in the local host with `--expose-gc`; a preload (written here) lets the bench ask it
 * to collect garbage and report its RSS over IPC, and puts the settings into `process.env` before
 * the app loads (a 2,000-caller CALLER_POLICY is longer than Linux allows one environment string).
 *
 *   callerMemoryBaseMb      broker RSS after GC, after `warmMs` of the same load from one caller
 *   callerMemoryGrowthMb    RSS after GC once every token was used, minus the base (target ≤ 60)
 *   callerMemoryDriftMb     RSS after GC after the steady load, minus the previous (flat: about 0)
 *   callerHeapGrowthMb      the live JavaScript heap's part of the growth; callerHeapCommittedGrowthMb:
 *                           the heap V8 keeps committed (the rest of the growth is native memory)
 *   callerMemoryFailures    requests not answered 200 (expected 0)
 */
import { writeFileSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import type { RunningEmulator } from '../dev/emulator/index';
import { callerTokenTemplate, signCallerToken } from './callerTokens';
import { keepAliveLoad } from './keepAliveLoad';
import { type BrokerProcess, log, postToken, root, round, startBroker, tokenForm } from './support';

export interface CallerMemoryOptions {
  emulator: RunningEmulator;
  /** The broker's settings; CALLER_POLICY is replaced. */
  brokerEnv: Record<string, string>;
  apps: number;
  tokensPerApp: number;
  connections: number;
  /** How long one caller loads the broker before the base is taken. */
  warmMs: number;
}

const PRELOAD = `
const { readFileSync } = require('node:fs');
Object.assign(process.env, JSON.parse(readFileSync(process.env.BENCH_SETTINGS_FILE, 'utf8')));
process.on('message', (m) => {
  if (!m || m.bench !== 'gc') return;
  global.gc(); global.gc();
  const usage = process.memoryUsage();
  process.send({ event: 'bench-gc', rssMb: usage.rss / 1048576, heapUsedMb: usage.heapUsed / 1048576, heapTotalMb: usage.heapTotal / 1048576 });
});
`;

/** The broker's resident memory and used JavaScript heap after a full collection, in MB. */
function collectGarbage(broker: BrokerProcess): Promise<{ rssMb: number; heapUsedMb: number; heapTotalMb: number }> {
  return new Promise((resolve) => {
    const onMessage = (m: { event?: string; rssMb?: number; heapUsedMb?: number; heapTotalMb?: number }): void => {
      if (m.event !== 'bench-gc') return;
      broker.child.off('message', onMessage);
      resolve({
        rssMb: round(m.rssMb!, 1),
        heapUsedMb: round(m.heapUsedMb!, 1),
        heapTotalMb: round(m.heapTotalMb!, 1),
      });
    };
    broker.child.on('message', onMessage);
    broker.child.send({ bench: 'gc' });
  });
}

/** Sends every token once, `connections` at a time; resolves with the number of non-200 answers. */
async function useEveryToken(url: string, tokens: string[], body: string, connections: number): Promise<number> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: connections });
  let next = 0;
  let failures = 0;
  const loop = async (): Promise<void> => {
    while (next < tokens.length) {
      const token = tokens[next++]!;
      if ((await postToken(url, token, body, agent)).status !== 200) failures += 1;
    }
  };
  await Promise.all(Array.from({ length: connections }, loop));
  agent.destroy();
  return failures;
}

export async function measureCallerMemory(options: CallerMemoryOptions): Promise<Record<string, number>> {
  const { emulator } = options;
  const scope = emulator.scopes[0]!;
  log(`caller memory: minting ${options.apps * options.tokensPerApp} caller tokens from ${options.apps} apps…`);
  const template = await callerTokenTemplate(emulator);
  const appIds = Array.from({ length: options.apps }, () => randomUUID());
  const tokens: string[] = [];
  for (let t = 0; t < options.tokensPerApp; t += 1) {
    // One app's tokens are spread over the run, as independent workloads would send them.
    tokens.push(
      ...(await Promise.all(
        appIds.map((appId) => signCallerToken(emulator, template, { appId, lifetimeSeconds: 3600 })),
      )),
    );
  }
  const policy = Object.fromEntries(appIds.map((appId) => [appId, [scope]]));
  const settingsFile = path.join(root, 'dist', 'bench', 'caller-memory-settings.json');
  writeFileSync(settingsFile, JSON.stringify({ CALLER_POLICY: JSON.stringify(policy) }), { mode: 0o600 });
  const preload = path.join(root, 'dist', 'bench', 'caller-memory-preload.js');
  writeFileSync(preload, PRELOAD);
  const { CALLER_POLICY: _replaced, ...settings } = options.brokerEnv;
  // MALLOC_ARENA_MAX (glibc: how many malloc arenas the threads may create) passes through, to
  // see how much of the growth is native memory held by the thread pool's arenas.
  const arenas = process.env.MALLOC_ARENA_MAX;
  const env = { ...settings, BENCH_SETTINGS_FILE: settingsFile, ...(arenas ? { MALLOC_ARENA_MAX: arenas } : {}) };

  log(`caller memory: ${tokens.length} distinct tokens through the broker, then all again…`);
  const broker = await startBroker(env, { nodeArgs: ['--expose-gc', '-r', preload] });
  try {
    const body = tokenForm(scope);
    // The base is the broker after the same load from one caller, so that what load alone grows
    // (V8's young generation, sockets, buffers) is in the base and the growth is the callers' own.
    const warm = await keepAliveLoad({
      url: broker.url,
      callerToken: tokens[0]!,
      body,
      connections: options.connections,
      durationMs: options.warmMs,
    });
    if (warm.failures > 0) throw new Error('the broker refused the first bench caller token');
    const base = await collectGarbage(broker);
    const firstFailures = await useEveryToken(broker.url, tokens, body, options.connections);
    const after = await collectGarbage(broker);
    log('caller memory: steady load over the same tokens…');
    const againFailures = await useEveryToken(broker.url, tokens, body, options.connections);
    const final = await collectGarbage(broker);
    return {
      callerTokens: tokens.length,
      callerApps: options.apps,
      callerMemoryBaseMb: base.rssMb,
      callerMemoryGrowthMb: round(after.rssMb - base.rssMb, 1),
      callerMemoryDriftMb: round(final.rssMb - after.rssMb, 1),
      callerHeapGrowthMb: round(after.heapUsedMb - base.heapUsedMb, 1),
      callerHeapCommittedGrowthMb: round(after.heapTotalMb - base.heapTotalMb, 1),
      callerMemoryFailures: firstFailures + againFailures,
    };
  } finally {
    await broker.stop();
  }
}
