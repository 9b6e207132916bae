/**
 * The broker on the real Azure Functions runtime (`func start`, through dev/funcHost.ts) beside a
 * fixture app (fixtureApp.ts: the same routes answering a fixed JSON) on the same `func`, host.json
 * and settings. Cache-hit `POST /api/token` over keep-alive connections, the hosts measured in
 * alternating rounds so that a noisy neighbour slows them alike.
 *
 *   realHostP50Ms, realHostP99Ms, realHostRps        the broker
 *   realBaselineP50Ms, realBaselineP99Ms, realBaselineRps   the fixture app
 *   realHostP50Ratio, realHostP99Ratio               broker ÷ fixture (targets ≤ 1.10 and ≤ 1.25)
 *   realHostRssMb, realWorkerRssMb                   the broker's Functions host (.NET) and Node.js
 *                                                    worker, resident after the load
 *   realHostCpuUsPerRequest, realWorkerCpuUsPerRequest      CPU time the broker's host and worker
 *   realBaselineHostCpuUsPerRequest, realBaselineWorkerCpuUsPerRequest   spent per request (and the
 *                                                    fixture's): with 4 connections on 2 cores the
 *                                                    load is CPU-bound, so the p50 ratio follows
 *                                                    the CPU ratio; these say which process pays
 *   realAuditLineP50Ratio, realAuditLine*CpuUsPerRequest  with `auditLine`: a third app, the fixture
 *                                                    writing one log line of the audit line's size
 *                                                    through its invocation context per request (as
 *                                                    the broker must: docs/functions-runtime.md) ÷
 *                                                    the fixture — what that one record costs alone
 *   realNoAuditLineP50Ratio, realNoAuditLine*CpuUsPerRequest  also with `auditLine`: a fourth app,
 *                                                    the broker with that line dropped
 *                                                    (brokerNoAuditApp.ts) ÷ the fixture — what the
 *                                                    broker's own work per request costs apart from it
 *
 * A variant changes one lever: host.json through `AzureFunctionsJobHost__*` overrides (all apps),
 * or the HTTP streaming mode of @azure/functions (all apps).
 */
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { type FuncLocation, type RunningFuncHost, startFuncHost } from '../dev/funcHost';
import { keepAliveLoad, type LoadResult, summarizeLoad } from './keepAliveLoad';
import { log, postToken, root, round, rssMb, tokenForm } from './support';

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
  {
    name: 'hostConsoleOff',
    description:
      'the host’s console logger off, as Azure runs the host (off unless configured; `func start` turns it on for ' +
      'development): the host no longer prints each audit line, and the bench no longer reads it',
    hostJson: { AzureFunctionsJobHost__logging__console__isEnabled: 'false' },
  },
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
  /**
   * Also measure the fixture that writes one audit-sized line per request (realAuditLine*) and the
   * broker without its audit line (realNoAuditLine*): the gap to the fixture, taken apart.
   */
  readonly auditLine?: boolean;
}

interface Apps {
  broker: string;
  brokerStream: string;
  brokerNoAudit: string;
  fixture: string;
}

/** Bundles the fixture app and the broker's streaming entry as deployable apps (dev/build.mjs --app). */
export function buildHostApps(): Apps {
  const out = path.join(root, 'dist', 'bench');
  const apps: Apps = {
    broker: path.join(root, 'dist', 'app', 'index.js'),
    brokerStream: path.join(out, 'broker-stream-app', 'index.js'),
    brokerNoAudit: path.join(out, 'broker-no-audit-app', 'index.js'),
    fixture: path.join(out, 'fixture-app', 'index.js'),
  };
  for (const [entry, outfile] of [
    ['bench/fixtureApp.ts', apps.fixture],
    ['bench/brokerStreamApp.ts', apps.brokerStream],
    ['bench/brokerNoAuditApp.ts', apps.brokerNoAudit],
  ] as const) {
    const result = spawnSync(process.execPath, ['dev/build.mjs', '--app', entry, '--outfile', outfile], {
      cwd: root,
      encoding: 'utf8',
    });
    if (result.status !== 0) throw new Error(`building ${entry} failed: ${result.stderr}`);
  }
  return apps;
}

/** Every descendant of `pid` (children, their children, …) with its program name (`dotnet`, `node`, …). */
function descendants(pid: number): Map<number, string> {
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
  const out = new Map<number, string>();
  const visit = (parent: number): void => {
    for (const [child, ppid] of parents) {
      if (ppid !== parent) continue;
      out.set(child, names.get(child) ?? '?');
      visit(child);
    }
  };
  visit(pid);
  return out;
}

/** Resident MB of every descendant of `pid`, by the name of its program. */
function descendantRssMb(pid: number): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [child, name] of descendants(pid)) out[name] = round((out[name] ?? 0) + (rssMb(child) || 0), 1);
  return out;
}

/** CPU milliseconds (user + system) spent so far by every descendant of `pid`, by program name. */
function descendantCpuMs(pid: number): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [child, name] of descendants(pid)) {
    try {
      const stat = readFileSync(`/proc/${child}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      // utime and stime, in clock ticks of 10 ms (USER_HZ is 100 on Linux).
      out[name] = (out[name] ?? 0) + (Number(fields[11]) + Number(fields[12])) * 10;
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

async function startHost(
  options: RealHostOptions,
  appFile: string,
  stageName: string,
  extraSettings: Record<string, string> = {},
): Promise<RunningFuncHost> {
  const settings = {
    ...options.settings,
    ...extraSettings,
    ...(options.variant.httpStream ? { BENCH_HTTP_STREAM: 'true' } : {}),
  };
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

interface MeasuredHost {
  readonly host: RunningFuncHost;
  readonly runs: LoadResult[];
  /** CPU ms per program name over the measured rounds. */
  readonly cpuMs: Record<string, number>;
}

/** CPU µs per answered request of the host (.NET) and the worker (Node.js). */
function cpuPerRequest(measured: MeasuredHost): { host: number; worker: number } {
  const requests = measured.runs.reduce((sum, run) => sum + run.latenciesMs.length, 0);
  const per = (name: string): number => round(((measured.cpuMs[name] ?? NaN) * 1000) / requests, 0);
  return { host: per('dotnet'), worker: per('node') };
}

/** Runs one variant: every host up, warmed, measured in alternating rounds, stopped. */
export async function measureRealHost(options: RealHostOptions, apps: Apps): Promise<Record<string, number>> {
  const { variant } = options;
  log(`real Functions runtime, ${variant.name} (${variant.description})…`);
  const body = tokenForm(options.scope);
  const started: RunningFuncHost[] = [];
  try {
    const start = async (app: string, stage: string, extra?: Record<string, string>): Promise<MeasuredHost> => {
      const host = await startHost(options, app, stage, extra);
      started.push(host);
      return { host, runs: [], cpuMs: {} };
    };
    const broker = await start(variant.httpStream ? apps.brokerStream : apps.broker, 'func-broker');
    const first = await postToken(broker.host.url, options.callerToken, body, new http.Agent());
    if (first.status !== 200) throw new Error(`the broker on func answered ${first.status}`);
    const fixture = await start(apps.fixture, 'func-fixture');
    const auditLine = options.auditLine
      ? await start(apps.fixture, 'func-fixture-audit', { BENCH_FIXTURE_AUDIT_LINE: 'true' })
      : undefined;
    const noAuditLine = options.auditLine ? await start(apps.brokerNoAudit, 'func-broker-no-audit') : undefined;
    const hosts = [broker, fixture, ...(auditLine ? [auditLine] : []), ...(noAuditLine ? [noAuditLine] : [])];
    const load = (url: string, durationMs: number): Promise<LoadResult> =>
      keepAliveLoad({ url, callerToken: options.callerToken, body, connections: options.connections, durationMs });
    for (const measured of hosts) await load(measured.host.url, 2000);
    for (let i = 0; i < options.rounds; i += 1) {
      for (const measured of hosts) {
        const before = descendantCpuMs(measured.host.func.pid);
        measured.runs.push(await load(measured.host.url, options.roundMs));
        const after = descendantCpuMs(measured.host.func.pid);
        for (const [name, ms] of Object.entries(after)) {
          measured.cpuMs[name] = (measured.cpuMs[name] ?? 0) + ms - (before[name] ?? 0);
        }
      }
    }
    const b = summarizeLoad(broker.runs);
    const f = summarizeLoad(fixture.runs);
    const rss = descendantRssMb(broker.host.func.pid);
    const brokerCpu = cpuPerRequest(broker);
    const fixtureCpu = cpuPerRequest(fixture);
    /** `real<name>P50Ms`, its ratio to the fixture and its CPU per request, for an app measured beside. */
    const besideFixture = (name: string, measured: MeasuredHost | undefined): Record<string, number> => {
      if (measured === undefined) return {};
      const load = summarizeLoad(measured.runs);
      const cpu = cpuPerRequest(measured);
      return {
        [`real${name}P50Ms`]: round(load.p50Ms),
        [`real${name}P50Ratio`]: round(load.p50Ms / f.p50Ms),
        [`real${name}HostCpuUsPerRequest`]: cpu.host,
        [`real${name}WorkerCpuUsPerRequest`]: cpu.worker,
      };
    };
    const failures = hosts.reduce((sum, measured) => sum + summarizeLoad(measured.runs).failures, 0);
    return {
      realHostP50Ms: round(b.p50Ms),
      realHostP99Ms: round(b.p99Ms),
      realHostRps: round(b.rps, 0),
      realBaselineP50Ms: round(f.p50Ms),
      realBaselineP99Ms: round(f.p99Ms),
      realBaselineRps: round(f.rps, 0),
      realHostP50Ratio: round(b.p50Ms / f.p50Ms),
      realHostP99Ratio: round(b.p99Ms / f.p99Ms),
      realHostFailures: failures,
      realHostRssMb: rss.dotnet ?? NaN,
      realWorkerRssMb: rss.node ?? NaN,
      realHostCpuUsPerRequest: brokerCpu.host,
      realWorkerCpuUsPerRequest: brokerCpu.worker,
      realBaselineHostCpuUsPerRequest: fixtureCpu.host,
      realBaselineWorkerCpuUsPerRequest: fixtureCpu.worker,
      ...besideFixture('AuditLine', auditLine),
      ...besideFixture('NoAuditLine', noAuditLine),
    };
  } finally {
    for (const host of started.reverse()) await host.stop();
  }
}
