/**
 * `npm run bench` — every figure beside a baseline measured in the same run; prints ONE JSON object
 * as its last line. Runs the emulator in-process and the broker (bundled app in the local host) as
 * a child process with the stack's settings, except CALLER_RATE_LIMIT_PER_MINUTE (raised so the
 * load measures the broker, not its rate limiter) and a warm-up schedule that does not fire.
 *
 *   tokenRps, tokenP99Ms   cache-hit POST /api/token through the local host, 50 connections, 10 s
 *                          after warm-up (autocannon)      vs bareRps: bare node:http fixed JSON
 *   handlerRatio           in-process median of the token handler on a cache hit ÷ a baseline
 *                          handler that reads the same HttpRequest and returns fixed JSON
 *   coldUpstreamCalls      1,000 concurrent requests on a cold broker → token requests Entra saw
 *   coldFailures           … of which did not get 200 (coldKeyVaultReads, coldPeakRssMb beside them)
 *   loadMs / bareNodeMs    start a process that loads the bundled app (its settings only, as in Azure) vs
 *                          `node -e 0` (median of 9, interleaved);
 *   unbundledLoadMs        the same app transpiled file by file, node_modules loaded as installed
 *   loadWithExtraCaMs      loadMs with NODE_EXTRA_CA_CERTS set too (the local stack's CA; Node pays it at start)
 *   peakRssMb              the broker process's peak RSS (VmHWM) after all of the above
 *
 * `node dist/bench/bench.js --handler-ratio` is the in-process part (run as a child so that the CA
 * is trusted through NODE_EXTRA_CA_CERTS, exactly as the broker trusts it).
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { createRequire } from 'node:module';
import path from 'node:path';
import type * as esbuild from 'esbuild';
import { HttpRequest, InvocationContext } from '@azure/functions';
import { startEmulator } from '../dev/emulator/index';
import { loadAppCapturing } from '../dev/host/captureHook';
import { findFreePort } from '../dev/ports';
import { repoRoot } from '../dev/stackFile';

interface AutocannonResult {
  requests: { average: number };
  latency: { p99: number; p50: number };
  non2xx: number;
  errors: number;
  timeouts: number;
}
type Autocannon = (options: Record<string, unknown>) => Promise<AutocannonResult>;
const autocannon = createRequire(__filename)('autocannon') as Autocannon;

const root = repoRoot();
// BENCH_APP: another bundle (only to check the harness itself); default the deployable app.
const appPath = process.env.BENCH_APP
  ? path.resolve(process.env.BENCH_APP)
  : path.join(root, 'dist', 'app', 'index.js');
const hostPath = path.join(root, 'dist', 'dev', 'host.js');
const LOAD_RUNS = 9;
const COLD_REQUESTS = 1000;

function log(message: string): void {
  process.stderr.write(`bench: ${message}\n`);
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

const round = (value: number, digits = 2): number => Number(value.toFixed(digits));

/**
 * Wall time of each `node args…` from spawn to exit, median of LOAD_RUNS. The commands run
 * interleaved, so a noisy neighbour on this machine slows baseline and app alike.
 * @returns milliseconds per command; NaN for a command that failed (its stderr is logged once).
 */
function timeNodeInterleaved(commands: { args: string[]; env: NodeJS.ProcessEnv }[]): number[] {
  const times = commands.map((): number[] => []);
  const failed = new Set<number>();
  for (let i = 0; i < LOAD_RUNS; i += 1) {
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
  const entryPoints = (readdirSync(path.join(root, 'src'), { recursive: true }) as string[])
    .filter((file) => file.endsWith('.ts'))
    .map((file) => path.join(root, 'src', file));
  await build({
    entryPoints,
    outdir,
    bundle: false,
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    logLevel: 'error',
  });
  return path.join(outdir, 'index.js');
}

interface BrokerProcess {
  child: ChildProcess;
  url: string;
  stop(): Promise<void>;
}

async function startBroker(env: Record<string, string>): Promise<BrokerProcess> {
  const port = await findFreePort();
  const child = spawn(process.execPath, [hostPath, appPath, '--no-startup-timers'], {
    env: { ...env, PORT: String(port) },
    stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
  });
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
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  };
}

function peakRssMb(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const match = /VmHWM:\s+(\d+) kB/.exec(status);
  return match ? round(Number(match[1]) / 1024, 1) : NaN;
}

function postToken(url: string, callerToken: string, body: string, agent: http.Agent): Promise<number> {
  return new Promise((resolve) => {
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
        res.on('end', () => resolve(res.statusCode ?? 0));
      },
    );
    req.on('error', () => resolve(0));
    req.end(body);
  });
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

async function main(): Promise<void> {
  const emulator = await startEmulator();
  const stateDir = path.join(root, 'dist', 'bench');
  mkdirSync(stateDir, { recursive: true });
  const caPath = path.join(stateDir, 'ca.pem');
  writeFileSync(caPath, emulator.caPem);
  const settings: Record<string, string> = {
    ...emulator.brokerSettings(),
    CALLER_RATE_LIMIT_PER_MINUTE: '1000000',
    WARMUP_SCHEDULE: '0 0 0 1 1 *',
  };
  const brokerEnv = { ...settings, NODE_EXTRA_CA_CERTS: caPath };
  const scope = emulator.scopes[0]!;
  const caller = emulator.callers[0]!;
  const callerToken = await emulator.callerToken(caller);
  const body = new URLSearchParams({ scope }).toString();
  const result: Record<string, number> = {};

  try {
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
    const [bareNodeMs, loadMs, loadWithExtraCaMs, unbundledLoadMs] = timeNodeInterleaved([
      { args: ['-e', '0'], env: {} },
      { args: ['-e', LOAD_SCRIPT, appPath], env: settings },
      { args: ['-e', LOAD_SCRIPT, appPath], env: brokerEnv },
      ...(unbundled ? [{ args: ['-e', LOAD_SCRIPT, unbundled], env: settings }] : []),
    ]);
    result.bareNodeMs = round(bareNodeMs!);
    result.loadMs = round(loadMs!);
    result.loadRatio = round(loadMs! / bareNodeMs!);
    result.loadWithExtraCaMs = round(loadWithExtraCaMs!);
    if (unbundledLoadMs !== undefined && !Number.isNaN(unbundledLoadMs))
      result.unbundledLoadMs = round(unbundledLoadMs);

    log('cold start: 1,000 concurrent requests…');
    const broker = await startBroker(brokerEnv);
    try {
      emulator.reset();
      const agent = new http.Agent({ keepAlive: true, maxSockets: COLD_REQUESTS });
      const statuses = await Promise.all(
        Array.from({ length: COLD_REQUESTS }, () => postToken(broker.url, callerToken, body, agent)),
      );
      agent.destroy();
      const stats = emulator.stats();
      result.coldUpstreamCalls = Object.values(stats.tokenRequests[emulator.broker.clientId] ?? {}).reduce(
        (a, b) => a + b,
        0,
      );
      result.coldFailures = statuses.filter((status) => status !== 200).length;
      result.coldKeyVaultReads = Object.values(stats.keyVaultReads).reduce((a, b) => a + b, 0);
      result.coldPeakRssMb = peakRssMb(broker.child.pid!);

      log('token endpoint under load (warm-up 3 s, then 10 s)…');
      const tokenOptions = {
        method: 'POST',
        headers: { authorization: `Bearer ${callerToken}`, 'content-type': 'application/x-www-form-urlencoded' },
        body,
      };
      await load(`${broker.url}/api/token`, tokenOptions, 3);
      const token = await load(`${broker.url}/api/token`, tokenOptions, 10);
      result.tokenRps = round(token.requests.average, 0);
      result.tokenP99Ms = token.latency.p99;
      result.tokenNon2xx = token.non2xx + token.errors + token.timeouts;
      result.peakRssMb = peakRssMb(broker.child.pid!);

      log('bare node:http server under the same load…');
      const bare = await startBareServer();
      try {
        await load(bare.url, tokenOptions, 3);
        const bareRun = await load(bare.url, tokenOptions, 10);
        result.bareRps = round(bareRun.requests.average, 0);
        result.bareP99Ms = bareRun.latency.p99;
        result.rpsRatio = round(token.requests.average / bareRun.requests.average);
      } finally {
        bare.stop();
      }
    } finally {
      await broker.stop();
    }

    log('handler vs baseline handler, in process…');
    // Not spawnSync: the emulator in this process must keep answering the child (JWKS, token).
    const handlerResult = (await runNodeForMessage([__filename, '--handler-ratio'], {
      ...brokerEnv,
      BENCH_CALLER_TOKEN: callerToken,
      BENCH_SCOPE: scope,
      BENCH_APP: appPath,
    }).catch((error: Error) => {
      throw new Error(`handler bench failed: ${error.message}`);
    })) as { handlerMedianUs: number; baselineMedianUs: number };
    result.handlerMedianUs = handlerResult.handlerMedianUs;
    result.baselineHandlerMedianUs = handlerResult.baselineMedianUs;
    result.handlerRatio = round(handlerResult.handlerMedianUs / handlerResult.baselineMedianUs);
  } finally {
    await emulator.close();
  }
  const targets =
    'rpsRatio>=0.3 tokenP99Ms<=10 handlerRatio<=1.5 coldUpstreamCalls=1 coldFailures=0 loadRatio<=1.8 peakRssMb<=150';
  process.stdout.write(`${JSON.stringify({ ...result, targets })}\n`);
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
  for (let round_ = 0; round_ < 40; round_ += 1) {
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

const run = process.argv.includes('--handler-ratio') ? handlerRatio : main;
run().catch((error: unknown) => {
  process.stderr.write(`bench: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
