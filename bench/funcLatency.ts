/**
 * `npm run bench:func -- [--requests N] [--rounds R] [--variants a,b] [--app LABEL=FILE …]` — the
 * token endpoint on the REAL Functions host (`func start`, found as npm start finds it), per
 * host.json logging variant and per app build, all in the same run so they compare. Prints one JSON
 * object per measurement as it goes and ONE JSON object as its last line: per app and variant, the
 * median over the rounds of each figure.
 *
 * Each round runs every app build (default: `current=dist/app/index.js`) with every logging variant
 * below, interleaved, so that a noisy minute on a shared machine does not land on one variant only.
 * Each run starts the host on that build with the local stack's settings (emulator in-process,
 * Azurite), warms up, then sends N sequential cache-hit `POST /api/token` over one keep-alive
 * connection:
 *   p50Ms, p99Ms, meanMs      latency seen by the caller
 *   recordsPer1000            log records the host wrote per 1,000 requests (each one is a trace in
 *                             Application Insights when it passes the same level filter)
 *   kbPer1000                 … and their text, in KB
 *
 * Variants (host.json `logging.logLevel` overrides, applied through AzureFunctionsJobHost__ variables):
 *   committed        host.json as it is in the repository
 *   everything       Function and Function.token.User at Information: the host's Executing/Executed
 *                    lines for every request, and the broker's own lines
 *   brokerLinesOnly  Function at Warning, Function.token.User at Information: no Executing/Executed,
 *                    the broker's audit line kept
 *   noRequestLines   both at Warning (what is left: request telemetry, failures)
 */
import http from 'node:http';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startEmulator } from '../dev/emulator/index';
import { findFunc, startFuncHost } from '../dev/funcHost';
import { repoRoot } from '../dev/stackFile';
import { brokerEnvironment } from '../dev/stackSettings';

interface Variant {
  readonly name: string;
  readonly env: Readonly<Record<string, string>>;
}

const LOG_LEVEL = 'AzureFunctionsJobHost__logging__logLevel__';
const levels = (functionLevel: string, userLevel: string): Record<string, string> => ({
  [`${LOG_LEVEL}Function`]: functionLevel,
  [`${LOG_LEVEL}Function.token.User`]: userLevel,
});
const VARIANTS: readonly Variant[] = [
  { name: 'committed', env: {} },
  { name: 'everything', env: levels('Information', 'Information') },
  { name: 'brokerLinesOnly', env: levels('Warning', 'Information') },
  { name: 'noRequestLines', env: levels('Warning', 'Warning') },
];

interface BenchArgs {
  requests: number;
  rounds: number;
  variants: readonly Variant[];
  apps: [string, string][];
}

function parseArgs(argv: readonly string[], root: string): BenchArgs {
  let requests = 2000;
  let rounds = 1;
  let variants = VARIANTS;
  const apps: [string, string][] = [];
  for (let i = 0; i < argv.length; i += 1) {
    if (argv[i] === '--requests') requests = Number(argv[++i]);
    else if (argv[i] === '--rounds') rounds = Number(argv[++i]);
    else if (argv[i] === '--variants') {
      const names = (argv[++i] ?? '').split(',');
      variants = VARIANTS.filter((v) => names.includes(v.name));
      if (variants.length !== names.length)
        throw new Error(`--variants: one of ${VARIANTS.map((v) => v.name).join(', ')}`);
    } else if (argv[i] === '--app') {
      const [label, file] = (argv[++i] ?? '').split('=');
      if (!label || !file) throw new Error('--app LABEL=FILE');
      apps.push([label, path.resolve(file)]);
    } else throw new Error(`unknown argument ${argv[i]}`);
  }
  if (!Number.isInteger(requests) || requests < 100) throw new Error('--requests must be a whole number ≥ 100');
  if (!Number.isInteger(rounds) || rounds < 1) throw new Error('--rounds must be a whole number ≥ 1');
  if (apps.length === 0) apps.push(['current', path.join(root, 'dist', 'app', 'index.js')]);
  return { requests, rounds, variants, apps };
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

type Measurement = Record<'p50Ms' | 'p99Ms' | 'meanMs' | 'recordsPer1000' | 'kbPer1000', number> & {
  app: string;
  variant: string;
};

/** Per app and variant, the median over the rounds of each figure. */
function summarize(results: readonly Measurement[]): Record<string, unknown>[] {
  const groups = new Map<string, Measurement[]>();
  for (const result of results) {
    const key = `${result.app}/${result.variant}`;
    groups.set(key, [...(groups.get(key) ?? []), result]);
  }
  return [...groups.values()].map((group) => ({
    app: group[0]!.app,
    variant: group[0]!.variant,
    rounds: group.length,
    p50Ms: median(group.map((r) => r.p50Ms)),
    p99Ms: median(group.map((r) => r.p99Ms)),
    meanMs: median(group.map((r) => r.meanMs)),
    recordsPer1000: median(group.map((r) => r.recordsPer1000)),
    kbPer1000: median(group.map((r) => r.kbPer1000)),
  }));
}

function post(agent: http.Agent, url: URL, token: string, body: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      url,
      {
        method: 'POST',
        agent,
        headers: {
          authorization: `Bearer ${token}`,
          'content-type': 'application/x-www-form-urlencoded',
          'content-length': Buffer.byteLength(body),
        },
      },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

async function main(): Promise<void> {
  const root = repoRoot();
  const { requests, rounds, variants, apps } = parseArgs(process.argv.slice(2), root);
  const func = findFunc(process.env, root);
  if (!func) throw new Error('no func found (FUNC, PATH, ../shared/tools/functions-host): nothing to measure');
  const work = mkdtempSync(path.join(os.tmpdir(), 'bench-func-'));
  const emulator = await startEmulator();
  const results: Measurement[] = [];
  try {
    const caCertPath = path.join(work, 'ca.pem');
    writeFileSync(caCertPath, emulator.caPem);
    const settings = brokerEnvironment(
      emulator.brokerSettings(),
      { CALLER_RATE_LIMIT_PER_MINUTE: '1000000' },
      { caCertPath, port: 0 },
    );
    delete settings.PORT;
    const caller = emulator.callers.find((c) => c.name === 'workload-a')!;
    const body = new URLSearchParams({ scope: emulator.scopes[0]! }).toString();
    for (let round = 1; round <= rounds; round += 1) {
      for (const [label, appFile] of apps) {
        for (const variant of variants) {
          let records = 0;
          let bytes = 0;
          let counting = false;
          const host = await startFuncHost({
            func,
            root,
            appFile,
            stageDir: path.join(work, `${label}-${variant.name}-${round}`),
            settings,
            env: { ...process.env, ...variant.env },
            onRecord: (line) => {
              if (!counting) return;
              // A record's first line (or a JSON line) starts an entry; continuation lines add text.
              if (line.json || line.text.startsWith(`${line.level} `)) records += 1;
              bytes += Buffer.byteLength(line.text) + 1;
            },
          });
          const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
          try {
            const url = new URL(`${host.url}/api/token`);
            const token = await emulator.callerToken(caller);
            // The host's first seconds hold start-up work of its own (lock lease, timers): wait them out.
            for (let i = 0; i < 500; i += 1) {
              const status = await post(agent, url, token, body);
              if (status !== 200) throw new Error(`warm-up request answered ${status}`);
            }
            await new Promise((resolve) => setTimeout(resolve, 2000));
            counting = true;
            const latencies: number[] = [];
            for (let i = 0; i < requests; i += 1) {
              const started = process.hrtime.bigint();
              const status = await post(agent, url, token, body);
              latencies.push(Number(process.hrtime.bigint() - started) / 1e6);
              if (status !== 200) throw new Error(`request answered ${status}`);
            }
            // Lines of the last requests may still be on their way through the host's console.
            await new Promise((resolve) => setTimeout(resolve, 1000));
            counting = false;
            latencies.sort((a, b) => a - b);
            const twoDecimals = (n: number): number => Math.round(n * 100) / 100;
            const result: Measurement = {
              app: label,
              variant: variant.name,
              p50Ms: twoDecimals(percentile(latencies, 50)),
              p99Ms: twoDecimals(percentile(latencies, 99)),
              meanMs: twoDecimals(latencies.reduce((a, b) => a + b, 0) / latencies.length),
              recordsPer1000: Math.round((records * 1000) / requests),
              kbPer1000: twoDecimals((bytes * 1000) / requests / 1024),
            };
            results.push(result);
            process.stdout.write(`${JSON.stringify({ round, requests, ...result })}\n`);
          } finally {
            agent.destroy();
            await host.stop();
          }
        }
      }
    }
  } finally {
    await emulator.close();
    rmSync(work, { recursive: true, force: true });
  }
  process.stdout.write(`${JSON.stringify({ func: func.path, requests, rounds, results: summarize(results) })}\n`);
}

main().catch((error: unknown) => {
  process.stderr.write(`bench:func: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
