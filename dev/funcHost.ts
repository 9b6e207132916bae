/**
 * The real Azure Functions host in the loop: finds a `func` (Core Tools, or the host built from
 * source in ../shared/tools/functions-host), stages an app folder with a generated
 * local.settings.json, starts Azurite for AzureWebJobsStorage, starts `func start`, waits until the
 * app answers, and stops both. `npm start`, the real-runtime tests, the as-deployed package test and
 * the bench all start the host through `startFuncHost`.
 */
import { accessSync, constants, existsSync, mkdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { type ManagedChild, spawnProgram } from './childProcess';
import { writeAppPackage } from './appPackage';
import { createHostOutputReader, type HostRecordLine } from './funcOutput';
import { localFetch } from './localFetch';
import { findFreePort } from './ports';

/** Where `func` was found, and how. */
export interface FuncLocation {
  readonly path: string;
  readonly source: 'FUNC' | 'PATH' | 'shared tools';
}

/** The shared tools folder, relative to the repository root (a sibling of the clone). */
export const SHARED_FUNC_PATH = path.join('..', 'shared', 'tools', 'functions-host', 'func');

function isExecutableFile(file: string): boolean {
  try {
    if (!statSync(file).isFile()) return false;
    accessSync(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/**
 * The `func` to run: `FUNC` when set, else the first `func` on `PATH`, else
 * `../shared/tools/functions-host/func` beside the repository. Undefined when there is none.
 * @throws Error when `FUNC` is set but is not an executable file (a typo must not fall back silently).
 */
export function findFunc(env: NodeJS.ProcessEnv, root: string): FuncLocation | undefined {
  const configured = env.FUNC;
  if (configured) {
    const file = path.resolve(configured);
    if (!isExecutableFile(file)) throw new Error(`FUNC=${configured} is not an executable file`);
    return { path: file, source: 'FUNC' };
  }
  for (const dir of (env.PATH ?? '').split(path.delimiter)) {
    if (dir === '') continue;
    const file = path.join(dir, 'func');
    if (isExecutableFile(file)) return { path: file, source: 'PATH' };
  }
  const shared = path.resolve(root, SHARED_FUNC_PATH);
  return isExecutableFile(shared) ? { path: shared, source: 'shared tools' } : undefined;
}

/**
 * The environment `func` itself runs with. A variable set here wins over local.settings.json (as in
 * Core Tools), so only what the host and the shell need goes through: a machine-wide
 * NODE_EXTRA_CA_CERTS, or a broker setting left in the caller's shell, would otherwise hide the
 * stack's. `AzureFunctionsJobHost__*` passes, so host.json can be overridden for one run.
 */
export function funcEnvironment(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const out: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(env)) {
    if (value === undefined) continue;
    if (
      ['PATH', 'HOME', 'USER', 'LANG', 'LC_ALL', 'TMPDIR', 'TERM'].includes(name) ||
      name.startsWith('DOTNET_') ||
      name.startsWith('AzureFunctionsJobHost__')
    ) {
      out[name] = value;
    }
  }
  return out;
}

/** Writes the local.settings.json Core Tools and `func start` read (`Values` become the app's environment). */
export function writeLocalSettings(appDir: string, values: Readonly<Record<string, string>>): void {
  const settings = { IsEncrypted: false, Values: { FUNCTIONS_WORKER_RUNTIME: 'node', ...values } };
  writeFileSync(path.join(appDir, 'local.settings.json'), `${JSON.stringify(settings, null, 2)}\n`, { mode: 0o600 });
}

export interface RunningAzurite {
  readonly child: ManagedChild;
  /** For AzureWebJobsStorage: the well-known development account on Azurite's ports. */
  readonly connectionString: string;
}

// The well-known Azurite development account key (public, in Azurite's and Azure's docs).
const DEV_ACCOUNT = 'devstoreaccount1';
const DEV_ACCOUNT_KEY = 'Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==';

/**
 * Starts Azurite (blob, queue, table; in memory; free ports) and resolves once all three listen.
 * @throws Error when it exits or does not listen within `timeoutMs`.
 */
export async function startAzurite(options: {
  root: string;
  onLine?: (line: string) => void;
  onSpawn?: (child: ManagedChild) => void;
  timeoutMs?: number;
}): Promise<RunningAzurite> {
  const script = path.join(options.root, 'node_modules', 'azurite', 'dist', 'src', 'azurite.js');
  if (!existsSync(script)) throw new Error(`${script} is missing; run \`npm install\` (azurite is a dev dependency)`);
  const ports: Record<string, number> = {};
  let notify: (() => void) | undefined;
  const child = spawnProgram(
    'azurite',
    process.execPath,
    [
      script,
      ...['--blobPort', '0', '--queuePort', '0', '--tablePort', '0'],
      ...['--inMemoryPersistence', '--extentMemoryLimit', '64', '--disableTelemetry', '--silent'],
      ...['--skipApiVersionCheck', '--loose'],
    ],
    {
      env: { PATH: process.env.PATH },
      cwd: options.root,
      onLine: (line) => {
        const listening =
          /Azurite (Blob|Queue|Table) service is successfully listening at http:\/\/127\.0\.0\.1:(\d+)/.exec(line);
        if (listening) {
          ports[listening[1]!] = Number(listening[2]);
          notify?.();
        }
        options.onLine?.(line);
      },
    },
  );
  options.onSpawn?.(child);
  const ready = new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('Azurite did not listen in time')), options.timeoutMs ?? 20_000);
    notify = () => {
      if (ports.Blob && ports.Queue && ports.Table) {
        clearTimeout(timer);
        resolve();
      }
    };
    void child.exited.then(({ code, signal }) => {
      clearTimeout(timer);
      reject(new Error(`Azurite exited before it listened (${signal ?? `exit code ${code}`})`));
    });
  });
  try {
    await ready;
  } catch (error) {
    await child.stop();
    throw error;
  }
  const endpoint = (service: string, port: number | undefined): string =>
    `${service}Endpoint=http://127.0.0.1:${port}/${DEV_ACCOUNT}`;
  const connectionString = [
    'DefaultEndpointsProtocol=http',
    `AccountName=${DEV_ACCOUNT}`,
    `AccountKey=${DEV_ACCOUNT_KEY}`,
    endpoint('Blob', ports.Blob),
    endpoint('Queue', ports.Queue),
    endpoint('Table', ports.Table),
  ].join(';');
  return { child, connectionString };
}

export interface FuncHostOptions {
  readonly func: FuncLocation;
  readonly root: string;
  /** The bundled app entry point (default `dist/app/index.js`); its folder's `.js` files are staged. */
  readonly appFile?: string;
  /** An app folder to serve as it is (the unpacked deployment package) instead of staging `appFile`. */
  readonly appDir?: string;
  /** Where the staged app folder goes (emptied first). Ignored with `appDir`. */
  readonly stageDir?: string;
  /** The app settings (local.settings.json `Values`); AzureWebJobsStorage is added when Azurite runs. */
  readonly settings: Readonly<Record<string, string>>;
  /** Default: a free port. */
  readonly port?: number;
  /** Start Azurite for AzureWebJobsStorage (default true; the warm-up timer needs it). */
  readonly azurite?: boolean;
  /** Each of the host's console records as it arrives (see funcOutput.ts). */
  readonly onRecord?: (line: HostRecordLine) => void;
  readonly onAzuriteLine?: (line: string) => void;
  /** Called with each process as soon as it is spawned (so a supervisor can stop it on Ctrl-C). */
  readonly onSpawn?: (child: ManagedChild) => void;
  /** Default: the caller's environment, filtered by `funcEnvironment`. */
  readonly env?: NodeJS.ProcessEnv;
  readonly readyTimeoutMs?: number;
}

export interface RunningFuncHost {
  readonly url: string;
  readonly port: number;
  readonly appDir: string;
  readonly func: ManagedChild;
  readonly azurite: ManagedChild | undefined;
  /** The first `/api/health` status the app answered with (200, or 503 when it is unhealthy). */
  readonly healthStatus: number;
  /** Stops `func` (and with it the host and worker), then Azurite. */
  stop(): Promise<void>;
}

/**
 * Serves a function app with `func start` on 127.0.0.1 and resolves once `/api/health` answers
 * with the app's own JSON (200 or 503), so the host is up and the app's functions are indexed.
 * @throws Error when the host exits first or does not answer within `readyTimeoutMs`; everything
 *   started is stopped again.
 */
export async function startFuncHost(options: FuncHostOptions): Promise<RunningFuncHost> {
  let appDir = options.appDir;
  if (!appDir) {
    appDir = options.stageDir ?? path.join(options.root, '.local', 'func-app');
    rmSync(appDir, { recursive: true, force: true });
    writeAppPackage(appDir, {
      appFile: options.appFile ?? path.join(options.root, 'dist', 'app', 'index.js'),
      root: options.root,
    });
  } else mkdirSync(appDir, { recursive: true });

  const azurite =
    options.azurite === false
      ? undefined
      : await startAzurite({ root: options.root, onLine: options.onAzuriteLine, onSpawn: options.onSpawn });
  const settings: Record<string, string> = { ...options.settings };
  if (azurite) settings.AzureWebJobsStorage = azurite.connectionString;
  writeLocalSettings(appDir, settings);

  const port = options.port ?? (await findFreePort());
  const read = createHostOutputReader((line) => options.onRecord?.(line));
  const func = spawnProgram('Functions host', options.func.path, ['start', '--port', String(port)], {
    env: funcEnvironment(options.env ?? process.env),
    cwd: appDir,
    onLine: (line) => read(line),
  });
  options.onSpawn?.(func);
  const url = `http://127.0.0.1:${port}`;
  const stop = async (): Promise<void> => {
    // `func` forwards SIGTERM to the host's process group and waits for it: give it time.
    await func.stop(15_000);
    await azurite?.child.stop();
  };
  try {
    const healthStatus = await waitForApp(url, func, options.readyTimeoutMs ?? 60_000);
    return { url, port, appDir, func, azurite: azurite?.child, healthStatus, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

/** Polls `/api/health` until the app (not the host) answers: a JSON body with a `status`. */
async function waitForApp(url: string, func: ManagedChild, timeoutMs: number): Promise<number> {
  const started = Date.now();
  let last = 'nothing';
  while (Date.now() - started < timeoutMs) {
    if (func.hasExited()) throw new Error('the Functions host exited before the app answered /api/health');
    try {
      const res = await localFetch(`${url}/api/health`, { timeoutMs: 2000 });
      const status = (res.json as { status?: unknown } | undefined)?.status;
      if ((res.status === 200 || res.status === 503) && typeof status === 'string') return res.status;
      last = `HTTP ${res.status}`;
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new Error(
    `the app did not answer ${url}/api/health within ${Math.round(timeoutMs / 1000)} s (last: ${last}); ` +
      'see the host output above',
  );
}
