/**
 * The broker on the real Azure Functions runtime (`func start`, through dev/funcHost.ts) beside a
 * fixture app (fixtureApp.ts: the same routes answering a fixed JSON) on the same `func`, host.json
 * and settings. Cache-hit `POST /api/token` over keep-alive connections, the two hosts measured in
 * alternating rounds so that a noisy neighbour slows both alike.
 *
 *   realHostP50Ms, realHostP99Ms, realHostRps        the broker
 *   realBaselineP50Ms, realBaselineP99Ms, realBaselineRps   the fixture app
 *   realHostP50Ratio, realHostP99Ratio               broker ÷ fixture (targets ≤ 1.10 and ≤ 1.25)
 *   realHostRssMb, realWorkerRssMb                   the broker's Functions host (.NET) and Node.js
 *                                                    worker, resident after the load
 *   realHostColdFirstTokenMs, realHostColdPathRatio  with `cold`: the first token request on the
 *                                                    freshly started host (sent once it answers
 *                                                    /api/health), every upstream `latencyMs` away,
 *                                                    and its ratio to the unavoidable chain (coldPath.ts)
 *
 * A variant changes one lever: host.json through `AzureFunctionsJobHost__*` overrides (both apps),
 * or the HTTP streaming mode of @azure/functions (both apps).
 */
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { type FuncLocation, type RunningFuncHost, startFuncHost } from '../dev/funcHost';
import type { RunningEmulator } from '../dev/emulator/index';
import { unavoidableRoundTrips } from './coldPath';
import { keepAliveLoad, type LoadResult, summarizeLoad } from './keepAliveLoad';
import { log, postToken, root, round, rssMb, tokenForm } from './support';
import http from 'node:http';

export interface HostVariant {
  /** Short name, a suffix of the JSON fields of a lever run (`realHostP50Ratio_<name>`). */
  readonly name: string;
  readonly description: string;
  /** `AzureFunctionsJobHost__…` overrides of host.json for both hosts. */
  readonly hostJson?: Record<string, string>;
  readonly httpStream?: boolean;
}

export const DEFAULT_VARIANT: HostVariant = { name: 'asIs', description: "the repository's host.json" };

/**
 * The levers tried on the real runtime, each alone against the repository's host.json. Request
 * telemetry (category Host.Results, and Host.Aggregator for the metrics) stays at Information.
 */
export const LEVERS: readonly HostVariant[] = [
  {
    name: 'hostLogsWarning',
    description:
      'host.json logLevel default Warning, Host.Results and Host.Aggregator Information (request telemetry kept), ' +
      'the Function categories as host.json has them (the broker’s own lines kept)',
    hostJson: {
      AzureFunctionsJobHost__logging__logLevel__default: 'Warning',
      'AzureFunctionsJobHost__logging__logLevel__Host.Results': 'Information',
      'AzureFunctionsJobHost__logging__logLevel__Host.Aggregator': 'Information',
    },
  },
  {
    name: 'auditLineWarning',
    description:
      'Function.token.User Warning: the host drops the broker’s info line per request (its audit line), which ' +
      'host.json keeps; the worker still sends it',
    hostJson: { 'AzureFunctionsJobHost__logging__logLevel__Function.token.User': 'Warning' },
  },
  { name: 'httpStream', description: 'app.setup({ enableHttpStream: true }) in both apps', httpStream: true },
];

export interface RealHostOptions {
  readonly func: FuncLocation;
  /** The broker's settings (local.settings.json `Values`), the fixture gets the same. */
  readonly settings: Record<string, string>;
  readonly callerToken: string;
  readonly scope: string;
  readonly connections: number;
  readonly roundMs: number;
  readonly rounds: number;
  readonly variant: HostVariant;
  /** Inject upstream latency while the broker's host starts and serves its first token request. */
  readonly cold?: { readonly emulator: RunningEmulator; readonly latencyMs: number };
}

interface Apps {
  broker: string;
  brokerStream: string;
  fixture: string;
}

/** Bundles the fixture app and the broker's streaming entry as deployable apps (dev/build.mjs --app). */
export function buildHostApps(): Apps {
  const out = path.join(root, 'dist', 'bench');
  const apps: Apps = {
    broker: path.join(root, 'dist', 'app', 'index.js'),
    brokerStream: path.join(out, 'broker-stream-app', 'index.js'),
    fixture: path.join(out, 'fixture-app', 'index.js'),
  };
  for (const [entry, outfile] of [
    ['bench/fixtureApp.ts', apps.fixture],
    ['bench/brokerStreamApp.ts', apps.brokerStream],
  ] as const) {
    const result = spawnSync(process.execPath, ['dev/build.mjs', '--app', entry, '--outfile', outfile], {
      cwd: root,
      encoding: 'utf8',
    });
    if (result.status !== 0) throw new Error(`building ${entry} failed: ${result.stderr}`);
  }
  return apps;
}

/** Resident MB of every descendant of `pid`, by the name of its program (`dotnet`, `node`, …). */
function descendantRssMb(pid: number): Record<string, number> {
  const parents = new Map<number, number>();
  const names = new Map<number, string>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const close = stat.lastIndexOf(')');
      names.set(Number(entry), stat.slice(stat.indexOf('(') + 1, close));
      parents.set(Number(entry), Number(stat.slice(close + 2).split(' ')[1]));
    } catch {
      // gone meanwhile
    }
  }
  const out: Record<string, number> = {};
  const visit = (parent: number): void => {
    for (const [child, ppid] of parents) {
      if (ppid !== parent) continue;
      const name = names.get(child) ?? '?';
      out[name] = round((out[name] ?? 0) + (rssMb(child) || 0), 1);
      visit(child);
    }
  };
  visit(pid);
  return out;
}

async function startHost(options: RealHostOptions, appFile: string, stageName: string): Promise<RunningFuncHost> {
  const settings = { ...options.settings, ...(options.variant.httpStream ? { BENCH_HTTP_STREAM: 'true' } : {}) };
  return startFuncHost({
    func: options.func,
    root,
    appFile,
    stageDir: path.join(root, 'dist', 'bench', stageName),
    settings,
    env: { ...process.env, ...options.variant.hostJson },
    readyTimeoutMs: 120_000,
  });
}

/** Runs one variant: both hosts up, warmed, measured in alternating rounds, stopped. */
export async function measureRealHost(options: RealHostOptions, apps: Apps): Promise<Record<string, number>> {
  const { variant } = options;
  log(`real Functions runtime, ${variant.name} (${variant.description})…`);
  const brokerApp = variant.httpStream ? apps.brokerStream : apps.broker;
  const { cold } = options;
  cold?.emulator.setLatency({ target: 'all', ms: cold.latencyMs });
  let broker: RunningFuncHost;
  let first: { status: number; ms: number };
  const body = tokenForm(options.scope);
  try {
    broker = await startHost(options, brokerApp, 'func-broker');
    // The first token request on this instance; then both hosts are warmed with the same load.
    first = await postToken(broker.url, options.callerToken, body, new http.Agent());
  } finally {
    cold?.emulator.clearLatency();
  }
  let fixture: RunningFuncHost | undefined;
  try {
    if (first.status !== 200) throw new Error(`the broker on func answered ${first.status}`);
    fixture = await startHost(options, apps.fixture, 'func-fixture');
    const load = (url: string, durationMs: number): Promise<LoadResult> =>
      keepAliveLoad({ url, callerToken: options.callerToken, body, connections: options.connections, durationMs });
    await load(broker.url, 2000);
    await load(fixture.url, 2000);
    const brokerRuns: LoadResult[] = [];
    const fixtureRuns: LoadResult[] = [];
    for (let i = 0; i < options.rounds; i += 1) {
      brokerRuns.push(await load(broker.url, options.roundMs));
      fixtureRuns.push(await load(fixture.url, options.roundMs));
    }
    const b = summarizeLoad(brokerRuns);
    const f = summarizeLoad(fixtureRuns);
    const rss = descendantRssMb(broker.func.pid);
    return {
      realHostP50Ms: round(b.p50Ms),
      realHostP99Ms: round(b.p99Ms),
      realHostRps: round(b.rps, 0),
      realBaselineP50Ms: round(f.p50Ms),
      realBaselineP99Ms: round(f.p99Ms),
      realBaselineRps: round(f.rps, 0),
      realHostP50Ratio: round(b.p50Ms / f.p50Ms),
      realHostP99Ratio: round(b.p99Ms / f.p99Ms),
      realHostFailures: b.failures + f.failures,
      realHostRssMb: rss.dotnet ?? NaN,
      realWorkerRssMb: rss.node ?? NaN,
      ...(cold
        ? {
            realHostColdFirstTokenMs: round(first.ms, 1),
            realHostColdPathRatio: round(
              first.ms / (unavoidableRoundTrips(cold.emulator.broker.credentialKind) * cold.latencyMs),
            ),
          }
        : {}),
    };
  } finally {
    await fixture?.stop();
    await broker.stop();
  }
}
