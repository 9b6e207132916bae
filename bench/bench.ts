/**
 * `npm run bench` — every figure beside a baseline measured in the same run; prints ONE JSON object
 * as its last line (progress goes to stderr). The emulator runs in-process; the broker (the bundled
 * app) runs as a child process with the stack's settings, except CALLER_RATE_LIMIT_PER_MINUTE
 * (raised so the load measures the broker, not its rate limiter) and a warm-up schedule that does
 * not fire. What a caller feels, with its target:
 *
 *   realHost*            on the real Functions runtime (`func start`), beside a fixture app on the
 *                        same host and settings: p50 ratio ≤ 1.10, p99 ratio ≤ 1.25 (realHost.ts;
 *                        skipped, with a line saying so, when no `func` is found); the gap taken
 *                        apart: the fixture with the audit line alone, the broker without it
 *   coldPathRatio        cold instance, first caller, upstream latency injected: ≤ 1.3 (coldPath.ts;
 *                        the local host; with a `func`, the real runtime's first request beside a
 *                        fixture app's: realHostCold*, realBaselineColdFirstMs)
 *   requestsWaitingOnUpstream = 0, refreshP99DeltaMs ≤ 2   across token refreshes (refreshBoundaries.ts)
 *   callerMemoryGrowthMb ≤ 60 under 20,000 caller tokens from 2,000 apps (callerMemory.ts)
 *   coldUpstreamCalls    1,000 concurrent requests on a cold broker → token requests Entra saw: 1
 *   coldFailures         … of which did not get 200: 0 (coldKeyVaultReads, coldPeakRssMb beside them)
 *   loadRatio ≤ 1.8      loadMs / bareNodeMs: start a process that loads the bundled app (its settings
 *                        only, as in Azure) vs `node -e 0` (median of 9, interleaved);
 *                        unbundledLoadMs: the same app transpiled file by file; loadWithExtraCaMs:
 *                        loadMs with NODE_EXTRA_CA_CERTS set too (Node pays for the CA at start)
 *
 * Kept for reference, without targets (they measure the local development host more than the broker):
 *   tokenRps, tokenP99Ms   cache-hit POST /api/token through the local host, 50 connections, 10 s
 *                          after warm-up (autocannon)      vs bareRps: bare node:http fixed JSON (rpsRatio)
 *   handlerRatio           in-process median of the token handler on a cache hit ÷ a baseline
 *                          handler that reads the same HttpRequest and returns fixed JSON
 *   peakRssMb              the broker process's peak RSS (VmHWM) after the local-host load
 *
 * Options: `--parts a,b` runs only those parts (load, local, handler, coldPath, refresh, memory,
 * realHost); `--levers` also runs each lever on the real runtime (fields suffixed `_<lever>`);
 * `--quick` uses tiny sizes (to check the harness, not to read figures).
 * `node dist/bench/bench.js --handler-ratio` is the in-process part (run as a child so that the CA
 * is trusted through NODE_EXTRA_CA_CERTS, exactly as the broker trusts it).
 */
import { spawn, spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { createRequire } from 'node:module';
import path from 'node:path';
import type * as esbuild from 'esbuild';
import { HttpRequest, InvocationContext } from '@azure/functions';
import { startEmulator } from '../dev/emulator/index';
import { findFunc } from '../dev/funcHost';
import { loadAppCapturing } from '../dev/host/captureHook';
import { measureCallerMemory } from './callerMemory';
import { measureColdPath } from './coldPath';
import { buildHostApps, DEFAULT_VARIANT, LEVERS, measureRealHost } from './realHost';
import { measureRefreshBoundaries } from './refreshBoundaries';
import { appPath, log, median, peakRssMb, postToken, root, round, startBroker, tokenForm } from './support';

interface AutocannonResult {
  requests: { average: number };
  latency: { p99: number; p50: number };
  non2xx: number;
  errors: number;
  timeouts: number;
}
type Autocannon = (options: Record<string, unknown>) => Promise<AutocannonResult>;
const autocannon = createRequire(__filename)('autocannon') as Autocannon;

const PARTS = ['load', 'local', 'handler', 'coldPath', 'refresh', 'memory', 'realHost'] as const;
type Part = (typeof PARTS)[number];

/** Sizes of every part; `--quick` shrinks them to check the harness in seconds. */
function sizes(quick: boolean) {
  return {
    loadRuns: quick ? 1 : 9,
    coldRequests: quick ? 50 : 1000,
    loadSeconds: quick ? 1 : 10,
    warmSeconds: quick ? 1 : 3,
    handlerRounds: quick ? 3 : 40,
    coldPathRuns: quick ? 1 : 3,
    latencyMs: 50,
    refreshLifetimeSeconds: quick ? 8 : 20,
    refreshLifetimes: quick ? 2 : 4,
    memoryApps: quick ? 20 : 2000,
    memoryTokensPerApp: quick ? 2 : 10,
    memoryWarmMs: quick ? 500 : 5000,
    realRoundMs: quick ? 500 : 5000,
    realRounds: quick ? 1 : 3,
  };
}
type Sizes = ReturnType<typeof sizes>;

/**
 * Wall time of each `node args…` from spawn to exit, median of `runs`. The commands run
 * interleaved, so a noisy neighbour on this machine slows baseline and app alike.
 * @returns milliseconds per command; NaN for a command that failed (its stderr is logged once).
 */
function timeNodeInterleaved(commands: { args: string[]; env: NodeJS.ProcessEnv }[], runs: number): number[] {
  const times = commands.map((): number[] => []);
  const failed = new Set<number>();
  for (let i = 0; i < runs; i += 1) {
    commands.forEach(({ args, env }, index) => {
      if (failed.has(index)) return;
      const started = process.hrtime.bigint();
      const result = spawnSync(process.execPath, args, { env, stdio: ['ignore', 'ignore', 'pipe'] });
      const elapsed = Number(process.hrtime.bigint() - started) / 1e6;
      if (result.status !== 0) {
        failed.add(index);
        log(`node ${args.join(' ').slice(0, 60)}… failed: ${String(result.stderr).split('\n').slice(0, 6).join(' ')}`);
        return;
      }
      times[index]!.push(elapsed);
    });
  }
  return times.map((list, index) => (failed.has(index) ? NaN : median(list)));
}

// Loads an app with @azure/functions-core supplied as the host would, then exits (the app may hold timers).
const LOAD_SCRIPT =
  "const M=require('module');const o=M._load;const core={registerFunction(){return{dispose(){}}},setProgrammingModel(){}," +
  "getProgrammingModel(){},registerHook(){return{dispose(){}}}};M._load=function(r,...a){return r==='@azure/functions-core'?core:o.call(this,r,...a)};" +
  'require(process.argv[1]);process.exit(0)';

/** The app's sources transpiled one file per module (no bundle), to show what bundling saves. */
async function buildUnbundled(): Promise<string> {
  const { build } = createRequire(__filename)('esbuild') as typeof esbuild;
  const outdir = path.join(root, 'dist', 'bench', 'unbundled');
  const files = readdirSync(path.join(root, 'src'), { recursive: true }) as string[];
  await build({
    entryPoints: files.filter((file) => file.endsWith('.ts')).map((file) => path.join(root, 'src', file)),
    outdir,
    bundle: false,
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    logLevel: 'error',
  });
  // Data the sources require (e.g. contract/alertCatalog.json) goes beside them as it is.
  for (const file of files.filter((name) => name.endsWith('.json'))) {
    mkdirSync(path.dirname(path.join(outdir, file)), { recursive: true });
    copyFileSync(path.join(root, 'src', file), path.join(outdir, file));
  }
  return path.join(outdir, 'index.js');
}

/**
 * Runs `node args…` and resolves with the first IPC message it sends. Its stdout (the broker's log
 * lines) goes to /dev/null, as for the broker under load: the bench measures the broker, not a terminal.
 */
function runNodeForMessage(args: string[], env: NodeJS.ProcessEnv): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { env, stdio: ['ignore', 'ignore', 'pipe', 'ipc'] });
    let stderr = '';
    let message: unknown;
    child.stderr!.on('data', (chunk: Buffer) => (stderr = (stderr + chunk.toString()).slice(-8000)));
    child.on('message', (m) => (message ??= m));
    child.once('exit', (code) =>
      message !== undefined ? resolve(message) : reject(new Error(`exit ${code}: ${stderr}`)),
    );
  });
}

async function load(url: string, options: Record<string, unknown>, seconds: number): Promise<AutocannonResult> {
  return autocannon({ url, connections: 50, duration: seconds, ...options });
}

/** A bare node:http server returning a fixed JSON, in its own process like the broker. */
async function startBareServer(): Promise<{ url: string; stop(): void }> {
  const script =
    "const body=JSON.stringify({token_type:'Bearer',access_token:'x'.repeat(900),expires_in:3000,scope:'api://x/.default'});" +
    "require('http').createServer((q,s)=>{q.resume();q.on('end',()=>{s.writeHead(200,{'content-type':'application/json; charset=utf-8'," +
    "'content-length':Buffer.byteLength(body)});s.end(body)})}).listen(0,'127.0.0.1',function(){process.send(this.address().port)})";
  const child = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
  const port = await new Promise<number>((resolve) => child.once('message', (p) => resolve(Number(p))));
  return { url: `http://127.0.0.1:${port}`, stop: () => child.kill('SIGTERM') };
}

type Result = Record<string, number | string | string[]>;

interface Context {
  readonly emulator: Awaited<ReturnType<typeof startEmulator>>;
  readonly settings: Record<string, string>;
  /** `settings` + NODE_EXTRA_CA_CERTS: how the broker process trusts the emulator. */
  readonly brokerEnv: Record<string, string>;
  readonly caPath: (caPem: string) => string;
  readonly scope: string;
  readonly callerToken: string;
  readonly size: Sizes;
  readonly result: Result;
  readonly skipped: string[];
}

async function measureLoadTimes({ settings, brokerEnv, size, result }: Context): Promise<void> {
  log('load times…');
  let unbundled: string | undefined;
  try {
    unbundled = await buildUnbundled();
  } catch (error) {
    log(`unbundled build failed: ${(error as Error).message.split('\n')[0]}`);
  }
  // The app is loaded with its settings only, as in Azure. NODE_EXTRA_CA_CERTS (the emulator's CA,
  // which only the local stack needs) makes Node build its whole root certificate store while it
  // starts, before any app code runs — about 15 ms here, which `node -e 0` does not pay; it is
  // measured beside (loadWithExtraCaMs) so that the difference stays visible.
  const [bareNodeMs, loadMs, loadWithExtraCaMs, unbundledLoadMs] = timeNodeInterleaved(
    [
      { args: ['-e', '0'], env: {} },
      { args: ['-e', LOAD_SCRIPT, appPath], env: settings },
      { args: ['-e', LOAD_SCRIPT, appPath], env: brokerEnv },
      ...(unbundled ? [{ args: ['-e', LOAD_SCRIPT, unbundled], env: settings }] : []),
    ],
    size.loadRuns,
  );
  result.bareNodeMs = round(bareNodeMs!);
  result.loadMs = round(loadMs!);
  result.loadRatio = round(loadMs! / bareNodeMs!);
  result.loadWithExtraCaMs = round(loadWithExtraCaMs!);
  if (unbundledLoadMs !== undefined && !Number.isNaN(unbundledLoadMs)) result.unbundledLoadMs = round(unbundledLoadMs);
}

/** `"503×12 0×3"`: how many answers had each status (0: no answer). */
function countStatuses(answers: { status: number }[]): string {
  const counts = new Map<number, number>();
  for (const { status } of answers) counts.set(status, (counts.get(status) ?? 0) + 1);
  return [...counts].map(([status, count]) => `${status}×${count}`).join(' ');
}

/** 1,000 concurrent requests on a cold broker, then the retired local-host load figures. */
async function measureLocalHost({ emulator, brokerEnv, scope, callerToken, size, result }: Context): Promise<void> {
  const body = tokenForm(scope);
  log(`cold start: ${size.coldRequests} concurrent requests…`);
  // Reset first: the broker's start-up prefetch asks Entra for every configured scope at once.
  emulator.reset();
  const broker = await startBroker(brokerEnv);
  try {
    const agent = new http.Agent({ keepAlive: true, maxSockets: size.coldRequests });
    const answers = await Promise.all(
      Array.from({ length: size.coldRequests }, () => postToken(broker.url, callerToken, body, agent)),
    );
    agent.destroy();
    const stats = emulator.stats();
    // The requests all ask for one scope: Entra must see one request for it. The other configured
    // scopes are the start-up prefetch's, counted beside.
    const byScope = stats.tokenRequests[emulator.broker.clientId] ?? {};
    result.coldUpstreamCalls = byScope[scope] ?? 0;
    result.coldOtherScopeCalls = Object.entries(byScope)
      .filter(([name]) => name !== scope)
      .reduce((sum, [, count]) => sum + count, 0);
    result.coldFailures = answers.filter(({ status }) => status !== 200).length;
    if (result.coldFailures > 0)
      result.coldFailureStatuses = countStatuses(answers.filter(({ status }) => status !== 200));
    result.coldKeyVaultReads = Object.values(stats.keyVaultReads).reduce((a, b) => a + b, 0);
    result.coldPeakRssMb = peakRssMb(broker.child.pid!);

    log(`token endpoint under load (warm-up ${size.warmSeconds} s, then ${size.loadSeconds} s)…`);
    const tokenOptions = {
      method: 'POST',
      headers: { authorization: `Bearer ${callerToken}`, 'content-type': 'application/x-www-form-urlencoded' },
      body,
    };
    await load(`${broker.url}/api/token`, tokenOptions, size.warmSeconds);
    const token = await load(`${broker.url}/api/token`, tokenOptions, size.loadSeconds);
    result.tokenRps = round(token.requests.average, 0);
    result.tokenP99Ms = token.latency.p99;
    result.tokenNon2xx = token.non2xx + token.errors + token.timeouts;
    result.peakRssMb = peakRssMb(broker.child.pid!);

    log('bare node:http server under the same load…');
    const bare = await startBareServer();
    try {
      await load(bare.url, tokenOptions, size.warmSeconds);
      const bareRun = await load(bare.url, tokenOptions, size.loadSeconds);
      result.bareRps = round(bareRun.requests.average, 0);
      result.bareP99Ms = bareRun.latency.p99;
      result.rpsRatio = round(token.requests.average / bareRun.requests.average);
    } finally {
      bare.stop();
    }
  } finally {
    await broker.stop();
  }
}

async function measureHandler({ brokerEnv, callerToken, scope, size, result }: Context): Promise<void> {
  log('handler vs baseline handler, in process…');
  // Not spawnSync: the emulator in this process must keep answering the child (JWKS, token).
  const handlerResult = (await runNodeForMessage([__filename, '--handler-ratio'], {
    ...brokerEnv,
    BENCH_CALLER_TOKEN: callerToken,
    BENCH_SCOPE: scope,
    BENCH_APP: appPath,
    BENCH_HANDLER_ROUNDS: String(size.handlerRounds),
  }).catch((error: Error) => {
    throw new Error(`handler bench failed: ${error.message}`);
  })) as { handlerMedianUs: number; baselineMedianUs: number };
  result.handlerMedianUs = handlerResult.handlerMedianUs;
  result.baselineHandlerMedianUs = handlerResult.baselineMedianUs;
  result.handlerRatio = round(handlerResult.handlerMedianUs / handlerResult.baselineMedianUs);
}

async function measureRealRuntime(context: Context, levers: boolean): Promise<void> {
  const func = findFunc(process.env, root);
  if (!func) {
    const line =
      'realHost: skipped, no func found (set FUNC, put func on PATH, or ../shared/tools/functions-host/func)';
    log(line);
    context.skipped.push(line);
    return;
  }
  const apps = buildHostApps();
  const options = {
    func,
    settings: context.brokerEnv,
    callerToken: context.callerToken,
    scope: context.scope,
    connections: 4,
    roundMs: context.size.realRoundMs,
    rounds: context.size.realRounds,
  };
  Object.assign(context.result, await measureRealHost({ ...options, variant: DEFAULT_VARIANT, auditLine: true }, apps));
  if (!levers) return;
  for (const variant of LEVERS) {
    const figures = await measureRealHost({ ...options, variant }, apps);
    for (const [name, value] of Object.entries(figures)) context.result[`${name}_${variant.name}`] = value;
  }
}

function parseParts(argv: string[]): Set<Part> {
  const at = argv.indexOf('--parts');
  if (at < 0) return new Set(PARTS);
  const wanted = (argv[at + 1] ?? '').split(',');
  const unknown = wanted.filter((part) => !PARTS.includes(part as Part));
  if (unknown.length > 0) throw new Error(`unknown part(s) ${unknown.join(', ')}; parts: ${PARTS.join(', ')}`);
  return new Set(wanted as Part[]);
}

const TARGETS =
  'realHostP50Ratio<=1.10 realHostP99Ratio<=1.25 coldPathRatio<=1.3 requestsWaitingOnUpstream=0 refreshP99DeltaMs<=2 ' +
  'callerMemoryGrowthMb<=60 coldUpstreamCalls=1 coldFailures=0 loadRatio<=1.8';
const RETIRED = 'rpsRatio tokenP99Ms handlerRatio peakRssMb (no targets: they measure the local development host)';

async function main(argv: string[]): Promise<void> {
  const parts = parseParts(argv);
  const size = sizes(argv.includes('--quick'));
  const emulator = await startEmulator();
  const stateDir = path.join(root, 'dist', 'bench');
  mkdirSync(stateDir, { recursive: true });
  let caFiles = 0;
  const caPath = (caPem: string): string => {
    const file = path.join(stateDir, caFiles === 0 ? 'ca.pem' : `ca-${caFiles}.pem`);
    caFiles += 1;
    writeFileSync(file, caPem);
    return file;
  };
  const settings: Record<string, string> = {
    ...emulator.brokerSettings(),
    CALLER_RATE_LIMIT_PER_MINUTE: '1000000',
    WARMUP_SCHEDULE: '0 0 0 1 1 *',
  };
  const extraSettings = {
    CALLER_RATE_LIMIT_PER_MINUTE: settings.CALLER_RATE_LIMIT_PER_MINUTE!,
    WARMUP_SCHEDULE: settings.WARMUP_SCHEDULE!,
  };
  const context: Context = {
    emulator,
    settings,
    brokerEnv: { ...settings, NODE_EXTRA_CA_CERTS: caPath(emulator.caPem) },
    caPath,
    scope: emulator.scopes[0]!,
    callerToken: await emulator.callerToken(emulator.callers[0]!),
    size,
    result: {},
    skipped: [],
  };
  const { result } = context;
  try {
    if (parts.has('load')) await measureLoadTimes(context);
    if (parts.has('local')) await measureLocalHost(context);
    if (parts.has('handler')) await measureHandler(context);
    if (parts.has('coldPath')) {
      const func = findFunc(process.env, root);
      if (!func) context.skipped.push('coldPath on the real runtime: skipped, no func found');
      const cold = await measureColdPath({
        func,
        fixtureApp: func ? buildHostApps().fixture : undefined,
        emulator,
        brokerEnv: context.brokerEnv,
        callerToken: context.callerToken,
        scope: context.scope,
        latencyMs: size.latencyMs,
        runs: size.coldPathRuns,
      });
      Object.assign(result, cold);
    }
    if (parts.has('refresh')) {
      const refresh = await measureRefreshBoundaries({
        extraSettings,
        caPath,
        lifetimeSeconds: size.refreshLifetimeSeconds,
        lifetimes: size.refreshLifetimes,
        latencyMs: size.latencyMs,
        connections: 4,
      });
      Object.assign(result, refresh);
    }
    if (parts.has('memory')) {
      const memory = await measureCallerMemory({
        emulator,
        brokerEnv: context.brokerEnv,
        apps: size.memoryApps,
        tokensPerApp: size.memoryTokensPerApp,
        connections: 8,
        warmMs: size.memoryWarmMs,
      });
      Object.assign(result, memory);
    }
    if (parts.has('realHost')) await measureRealRuntime(context, argv.includes('--levers'));
  } finally {
    await emulator.close();
  }
  process.stdout.write(
    `${JSON.stringify({ ...result, skipped: context.skipped, targets: TARGETS, retired: RETIRED })}\n`,
  );
}

/** Child mode: the token function as captured from the bundle, against a baseline, same requests. */
async function handlerRatio(): Promise<void> {
  const token = process.env.BENCH_CALLER_TOKEN!;
  const body = new URLSearchParams({ scope: process.env.BENCH_SCOPE! }).toString();
  const functions = loadAppCapturing(appPath);
  const tokenFunction = functions.find((fn) => fn.name === 'token');
  if (!tokenFunction) throw new Error('the app registers no "token" function');
  const makeRequest = (): HttpRequest =>
    new HttpRequest({
      method: 'POST',
      url: 'http://127.0.0.1:7071/api/token',
      headers: {
        authorization: `Bearer ${token}`,
        'content-type': 'application/x-www-form-urlencoded',
        'content-length': String(body.length),
      },
      body: { string: body },
    });
  const makeContext = (): InvocationContext =>
    new InvocationContext({ invocationId: 'bench', functionName: 'token', logHandler: () => undefined });
  const fixed = { token_type: 'Bearer', access_token: 'x'.repeat(900), expires_in: 3000 };
  const baseline = async (request: HttpRequest): Promise<unknown> => {
    await request.text();
    return { status: 200, jsonBody: fixed };
  };
  const first = (await tokenFunction.handler(makeRequest(), makeContext())) as { status?: number };
  if ((first?.status ?? 200) !== 200) throw new Error(`warm-up token request answered ${first?.status}`);

  const timeOne = async (fn: (request: HttpRequest, context: InvocationContext) => unknown): Promise<number> => {
    const request = makeRequest();
    const context = makeContext();
    const started = process.hrtime.bigint();
    await fn(request, context);
    return Number(process.hrtime.bigint() - started) / 1000;
  };
  const handlerTimes: number[] = [];
  const baselineTimes: number[] = [];
  // Interleaved batches, so drift (GC, CPU frequency, the other tenant of this machine) hits both.
  const rounds = Number(process.env.BENCH_HANDLER_ROUNDS ?? 40);
  for (let round_ = 0; round_ < rounds; round_ += 1) {
    for (let i = 0; i < 250; i += 1) handlerTimes.push(await timeOne(tokenFunction.handler));
    for (let i = 0; i < 250; i += 1) baselineTimes.push(await timeOne(baseline));
  }
  const drop = (times: number[]): number[] => times.slice(500); // the first batches warm the JIT
  const summary = {
    handlerMedianUs: round(median(drop(handlerTimes))),
    baselineMedianUs: round(median(drop(baselineTimes))),
  };
  // Exit only once the message is out (the app may hold timers that would keep us alive).
  process.send!(summary, undefined, {}, () => process.exit(0));
}

const run = process.argv.includes('--handler-ratio') ? handlerRatio : () => main(process.argv.slice(2));
run().catch((error: unknown) => {
  process.stderr.write(`bench: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
