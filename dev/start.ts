/**
 * `npm start [-- --dev-host]`: the whole local stack on 127.0.0.1 — the emulator in one process, the
 * broker (the bundled app) in another, configured only through the broker's settings. The broker
 * runs on the real Azure Functions host (`func start`, with Azurite for AzureWebJobsStorage) when a
 * `func` is found (FUNC, PATH, ../shared/tools/functions-host; see funcHost.ts), else — or with
 * `--dev-host` — on dev/host, the local look-alike. Writes `<state>/stack.json` once everything
 * answers, prints what to run next, passes the processes' output through, and stops them all on
 * Ctrl-C / SIGTERM or when any dies.
 *
 * Environment: PORT (broker, default 7071; 0 = any free port), EMULATOR_PORT and
 * EMULATOR_THIRD_PARTY_PORT (default: free ports), BROKER_STATE_DIR (default `.local/`), BROKER_APP
 * (default `dist/app/index.js`), FUNC (the `func` to run), and any broker setting, which overrides
 * the stack's default for the broker.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { type ManagedChild, spawnNode, waitForMessage } from './childProcess';
import { asEmulatorReady, type EmulatorProcessInfo } from './emulatorProcess';
import { findFunc, type FuncLocation, startFuncHost } from './funcHost';
import { localFetch } from './localFetch';
import { findFreePort, isPortFree } from './ports';
import {
  displayPath,
  removeStackFile,
  repoRoot,
  type BrokerHostKind,
  type StackFile,
  stackFilePath,
  stateDir,
  writeStackFile,
} from './stackFile';
import { brokerEnvironment, buildStackFile, callerTokenScope } from './stackSettings';

const READY_TIMEOUT_MS = 30_000;
const children: ManagedChild[] = [];
let shuttingDown = false;

function say(line = ''): void {
  process.stdout.write(`${line}\n`);
}

function failStart(message: string): Promise<never> {
  process.stderr.write(`npm start: ${message}\n`);
  return shutdown(1);
}

async function shutdown(exitCode: number): Promise<never> {
  if (!shuttingDown) {
    shuttingDown = true;
    if (children.some((child) => !child.hasExited())) say('npm start: stopping the stack…');
    removeStackFile(stackFilePath(stateDir()));
    // Broker first: it depends on the emulator, not the other way round.
    for (const child of [...children].reverse()) await child.stop(15_000);
  }
  process.exit(exitCode);
}

function parsePort(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  if (!/^\d+$/.test(raw) || Number(raw) > 65535) {
    process.stderr.write(`npm start: ${name} must be a whole number from 0 to 65535.\n`);
    process.exit(1);
  }
  return Number(raw);
}

/**
 * Emulator lines get a prefix; the broker's pass through unchanged (one JSON object per line).
 * The broker writes warnings and errors — alert events such as SecretExpiryWarning — to stderr;
 * every JSON log line goes to npm start's stdout all the same, so one stream holds the broker's
 * whole log in order. Anything else (a crash trace) keeps its stream.
 */
function passThrough(prefix: string | undefined) {
  return (line: string, stream: 'stdout' | 'stderr'): void => {
    const out = prefix ? `${prefix}${line}` : line;
    const toStdout = stream === 'stdout' || line.startsWith('{');
    (toStdout ? process.stdout : process.stderr).write(`${out}\n`);
  };
}

async function waitForHealth(url: string, broker: ManagedChild): Promise<number> {
  const started = Date.now();
  let lastStatus = 0;
  while (Date.now() - started < READY_TIMEOUT_MS) {
    if (broker.hasExited()) throw new Error('the broker exited before it answered /api/health');
    try {
      const res = await localFetch(`${url}/api/health`, { timeoutMs: 2000 });
      lastStatus = res.status;
      // 503 is an answer too (e.g. a credential the emulator was told to break); report it, go on after a grace period.
      if (res.status === 200 || (res.status === 503 && Date.now() - started > 10_000)) return res.status;
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 150));
  }
  throw new Error(
    `the broker did not answer /api/health within ${READY_TIMEOUT_MS / 1000} s (last status ${lastStatus || 'none'})`,
  );
}

const HOST_NOTES: Readonly<Record<BrokerHostKind, readonly string[]>> = {
  func: [
    ' The real Azure Functions host (func start): host.json applies, function keys are checked for',
    ' non-anonymous routes; no Easy Auth. It does not pick up rebuilt files: restart after npm run build.',
  ],
  'dev-host': [
    ' The local function host is NOT the Azure Functions host: no function keys, no Easy Auth,',
    ' every function is anonymous at the host level (the broker checks caller tokens itself).',
  ],
};

function printNextSteps(stack: StackFile, pids: { emulator: number; broker: number; azurite?: number }): void {
  // The curl walk-through uses a caller with a secret; every entry of `callers` has one.
  const allowed = stack.callers.find((c) => c.allowedScopes.includes(stack.scopes[0] as string)) ?? stack.callers[0]!;
  const denied = stack.callers.find((c) => c.allowedScopes.length === 0);
  const file = displayPath(stackFilePath(stateDir()));
  say('');
  say('================================================================================');
  say(' entra-token-broker local stack is up (127.0.0.1 only, nothing leaves this machine)');
  const hostName = stack.broker.host === 'func' ? 'broker (func start)         ' : 'broker (local function host)';
  say(`   ${hostName}  ${stack.broker.url}/api/token   ${stack.broker.url}/api/health`);
  say(`   emulated Entra / Key Vault    ${stack.entra.authorityHost}  (tenant ${stack.entra.tenantId})`);
  say(`   third-party API stand-in      ${stack.thirdPartyApi.url}`);
  say(`   emulator control              ${stack.control.url}`);
  say(`   CA certificate                ${stack.caCertFile}      stack description: ${file}`);
  const azurite = pids.azurite === undefined ? '' : `, azurite pid ${pids.azurite}`;
  say(`   processes                     emulator pid ${pids.emulator}, broker pid ${pids.broker}${azurite}`);
  for (const line of HOST_NOTES[stack.broker.host]) say(line);
  say('');
  const index = stack.callers.indexOf(allowed);
  const fileRef = path.isAbsolute(file) ? file : `./${file}`;
  say(
    ` 1. Get a caller token for "${allowed.name}" from the emulated Entra (client credentials; the secret stays in ${file}):`,
  );
  say(`    SECRET=$(node -p "require('${fileRef}').callers[${index}].clientSecret")`);
  say(
    `    TOKEN=$(curl -s --cacert ${stack.caCertFile} ${stack.entra.tokenEndpoint} -d grant_type=client_credentials ` +
      `-d client_id=${allowed.clientId} --data-urlencode "client_secret=$SECRET" ` +
      `--data-urlencode scope=${callerTokenScope(allowed)} | node -pe 'JSON.parse(require("fs").readFileSync(0)).access_token')`,
  );
  say(' 2. Ask the broker for a token for the third-party API:');
  say(
    `    curl -s -X POST ${stack.broker.url}/api/token -H "Authorization: Bearer $TOKEN" --data-urlencode scope=${stack.scopes[0]}`,
  );
  if (denied) say(`    (caller "${denied.name}" is registered but allowed nothing: it gets 403)`);
  say(' 3. Or watch the whole flow:  npm run demo');
  say(' Ctrl-C stops everything.');
  say('================================================================================');
  say('');
}

async function main(): Promise<void> {
  const root = repoRoot();
  const dist = path.join(root, 'dist');
  const args = process.argv.slice(2);
  const unknown = args.filter((arg) => arg !== '--dev-host');
  if (unknown.length > 0) return void (await failStart(`unknown argument ${unknown.join(' ')} (only --dev-host)`));
  let func: FuncLocation | undefined;
  try {
    func = args.includes('--dev-host') ? undefined : findFunc(process.env, root);
  } catch (error) {
    return void (await failStart((error as Error).message));
  }
  // BROKER_APP: another bundled function app (the host's own tests use a fixture); default the broker.
  const appPath = process.env.BROKER_APP ? path.resolve(process.env.BROKER_APP) : path.join(dist, 'app', 'index.js');
  const hostScript = path.join(dist, 'dev', 'host.js');
  for (const file of [appPath, path.join(dist, 'dev', 'emulator.js'), ...(func ? [] : [hostScript])]) {
    if (!existsSync(file))
      return void (await failStart(`${displayPath(file)} is missing; run \`npm run build\` (npm start does).`));
  }

  let port = parsePort('PORT', 7071);
  if (port === 0) port = await findFreePort();
  else if (!(await isPortFree(port))) {
    return void (await failStart(
      `port ${port} on 127.0.0.1 is already in use (another \`npm start\`, or \`func start\`?). ` +
        `Stop it, or pick another port: PORT=${port + 1} npm start`,
    ));
  }

  const dir = stateDir();
  removeStackFile(stackFilePath(dir));
  process.on('SIGINT', () => void shutdown(130));
  process.on('SIGTERM', () => void shutdown(143));
  say(
    func
      ? `npm start: serving the broker on the Azure Functions host: ${func.path} start (found by ${func.source})`
      : `npm start: serving the broker on dev/host, the local look-alike of the Functions host ` +
          `(${args.includes('--dev-host') ? '--dev-host' : 'no func on FUNC, PATH or ../shared/tools/functions-host'})`,
  );

  // The emulator must hold the credential kind the broker will ask for.
  const emulatorEnv: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    BROKER_STATE_DIR: dir,
    EMULATOR_PORT: process.env.EMULATOR_PORT ?? '0',
    EMULATOR_THIRD_PARTY_PORT: process.env.EMULATOR_THIRD_PARTY_PORT ?? '0',
    CLIENT_CREDENTIAL_KIND: (process.env.CLIENT_CREDENTIAL_KIND || 'secret').toLowerCase(),
  };
  if (process.env.CLIENT_CREDENTIAL_NAME) emulatorEnv.CLIENT_CREDENTIAL_NAME = process.env.CLIENT_CREDENTIAL_NAME;
  const emulator = spawnNode('emulator', path.join(dist, 'dev', 'emulator.js'), [], {
    env: emulatorEnv,
    cwd: root,
    onLine: passThrough('[emulator] '),
  });
  children.push(emulator);
  watchForDeath(emulator);

  let info: EmulatorProcessInfo;
  try {
    info = await waitForMessage(emulator, asEmulatorReady, READY_TIMEOUT_MS);
  } catch (error) {
    return void (await failStart((error as Error).message));
  }

  const env = brokerEnvironment(info.brokerSettings, process.env, { caCertPath: info.caCertPath, port });
  let started: { url: string; health: number; broker: ManagedChild; azurite?: ManagedChild };
  try {
    started = func ? await startOnFunc(func, appPath, env, port, dir) : await startOnDevHost(hostScript, appPath, env);
  } catch (error) {
    return void (await failStart((error as Error).message));
  }
  if (started.health !== 200) {
    say(`npm start: warning: /api/health answers ${started.health}; see the broker's log lines above.`);
  }

  const stack = buildStackFile(info, env, started.url, displayPath(info.caCertPath), func ? 'func' : 'dev-host');
  writeStackFile(stack, stackFilePath(dir));
  printNextSteps(stack, { emulator: emulator.pid, broker: started.broker.pid, azurite: started.azurite?.pid });
}

async function startOnDevHost(
  hostScript: string,
  appPath: string,
  env: Record<string, string>,
): Promise<{ url: string; health: number; broker: ManagedChild }> {
  const broker = spawnNode('broker', hostScript, [appPath], { env, cwd: repoRoot(), onLine: passThrough(undefined) });
  children.push(broker);
  watchForDeath(broker);
  const url = await waitForMessage(
    broker,
    (m) => ((m as { event?: string })?.event === 'listening' ? String((m as { url: string }).url) : undefined),
    READY_TIMEOUT_MS,
  );
  return { url, health: await waitForHealth(url, broker), broker };
}

/**
 * The broker on `func start`: the app folder is staged in the state directory with the stack's
 * settings in its own local.settings.json (the repository's, if any, is never touched). The host's
 * records go to stdout; the broker's JSON lines among them exactly as the broker wrote them.
 */
async function startOnFunc(
  func: FuncLocation,
  appPath: string,
  env: Record<string, string>,
  port: number,
  dir: string,
): Promise<{ url: string; health: number; broker: ManagedChild; azurite?: ManagedChild }> {
  const settings = { ...env };
  delete settings.PORT;
  const host = await startFuncHost({
    func,
    root: repoRoot(),
    appFile: appPath,
    stageDir: path.join(dir, 'func-app'),
    settings,
    port,
    readyTimeoutMs: READY_TIMEOUT_MS * 2,
    onRecord: (line) => say(line.json ? line.text : `[func] ${line.text}`),
    // Azurite's start-up chatter (ports, memory limit) says nothing a user needs; anything else shows.
    onAzuriteLine: (line) => {
      if (
        !/In-memory extent storage|service is (starting|successfully listening|closing|successfully closed)/.test(line)
      )
        say(`[azurite] ${line}`);
    },
    onSpawn: (child) => {
      children.push(child);
      watchForDeath(child);
    },
  });
  return { url: host.url, health: host.healthStatus, broker: host.func, azurite: host.azurite };
}

/** A child that dies on its own takes the stack down, with a non-zero exit. */
function watchForDeath(child: ManagedChild): void {
  void child.exited.then(async ({ code, signal }) => {
    // Ctrl-C reaches the whole process group: let our own SIGINT handler win that race quietly.
    await new Promise((resolve) => setTimeout(resolve, 200));
    if (shuttingDown) return;
    process.stderr.write(
      `npm start: the ${child.name} stopped (${signal ?? `exit code ${code}`}); stopping the stack.\n`,
    );
    void shutdown(1);
  });
}

main().catch((error: unknown) => {
  process.stderr.write(`npm start: ${error instanceof Error ? error.message : String(error)}\n`);
  void shutdown(1);
});
