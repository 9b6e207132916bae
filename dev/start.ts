/**
 * `npm start`: the whole local stack on 127.0.0.1 — the emulator in one process, the broker (the
 * bundled app in the local function host) in another, configured only through broker settings.
 * Writes `<state>/stack.json` once everything answers, prints what to run next, passes both
 * processes' output through, and stops them all on Ctrl-C / SIGTERM or when either dies.
 *
 * Environment: PORT (broker, default 7071; 0 = any free port), EMULATOR_PORT and
 * EMULATOR_THIRD_PARTY_PORT (default: free ports), BROKER_STATE_DIR (default `.local/`), BROKER_APP
 * (default `dist/app/index.js`), and any broker setting, which overrides the stack's default for
 * the broker.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { type ManagedChild, spawnNode, waitForMessage } from './childProcess';
import { asEmulatorReady } from './emulatorProcess';
import { localFetch } from './localFetch';
import { findFreePort, isPortFree } from './ports';
import {
  displayPath,
  removeStackFile,
  repoRoot,
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
    for (const child of [...children].reverse()) await child.stop();
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

function printNextSteps(stack: StackFile, pids: { emulator: number; broker: number }): void {
  const allowed = stack.callers.find((c) => c.allowedScopes.includes(stack.scopes[0] as string)) ?? stack.callers[0]!;
  const denied = stack.callers.find((c) => c.allowedScopes.length === 0);
  const file = displayPath(stackFilePath(stateDir()));
  say('');
  say('================================================================================');
  say(' entra-token-broker local stack is up (127.0.0.1 only, nothing leaves this machine)');
  say(`   broker (local function host)  ${stack.broker.url}/api/token   ${stack.broker.url}/api/health`);
  say(`   emulated Entra / Key Vault    ${stack.entra.authorityHost}  (tenant ${stack.entra.tenantId})`);
  say(`   third-party API stand-in      ${stack.thirdPartyApi.url}`);
  say(`   emulator control              ${stack.control.url}`);
  say(`   CA certificate                ${stack.caCertFile}      stack description: ${file}`);
  say(`   processes                     emulator pid ${pids.emulator}, broker pid ${pids.broker}`);
  say(' The local function host is NOT the Azure Functions host: no function keys, no Easy Auth,');
  say(' every function is anonymous at the host level (the broker checks caller tokens itself).');
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
  // BROKER_APP: another bundled function app (the host's own tests use a fixture); default the broker.
  const appPath = process.env.BROKER_APP ? path.resolve(process.env.BROKER_APP) : path.join(dist, 'app', 'index.js');
  for (const file of [appPath, path.join(dist, 'dev', 'host.js'), path.join(dist, 'dev', 'emulator.js')]) {
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

  let info;
  try {
    info = await waitForMessage(emulator, asEmulatorReady, READY_TIMEOUT_MS);
  } catch (error) {
    return void (await failStart((error as Error).message));
  }

  const env = brokerEnvironment(info.brokerSettings, process.env, { caCertPath: info.caCertPath, port });
  const broker = spawnNode('broker', path.join(dist, 'dev', 'host.js'), [appPath], {
    env,
    cwd: root,
    onLine: passThrough(undefined),
  });
  children.push(broker);
  watchForDeath(broker);

  let brokerUrl: string;
  try {
    brokerUrl = await waitForMessage(
      broker,
      (m) => ((m as { event?: string })?.event === 'listening' ? String((m as { url: string }).url) : undefined),
      READY_TIMEOUT_MS,
    );
    const health = await waitForHealth(brokerUrl, broker);
    if (health !== 200) say(`npm start: warning: /api/health answers ${health}; see the broker's log lines above.`);
  } catch (error) {
    return void (await failStart((error as Error).message));
  }

  const stack = buildStackFile(info, env, brokerUrl, displayPath(info.caCertPath));
  writeStackFile(stack, stackFilePath(dir));
  printNextSteps(stack, { emulator: emulator.pid, broker: broker.pid });
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
