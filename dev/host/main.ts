/**
 * `node dist/dev/host.js [APP] [--list] [--no-startup-timers]` — the local function host.
 * Loads the bundled app (default `dist/app/index.js`) with `@azure/functions-core` captured and
 * serves it on http://127.0.0.1:${PORT:-7071}. Log lines (JSON) go to stdout, the banner to stderr.
 * When started with an IPC channel (by `npm start`), it reports `{ event: 'listening', url }` and
 * exits when the parent goes away, so it can never outlive the stack.
 */
import path from 'node:path';
import { loadAppCapturing } from './captureHook';
import { describeFunctions } from './describeFunctions';
import { hostLogLine } from './invocationLog';
import { type RunningLocalHost, startLocalHost } from './localHost';

const HONESTY_NOTE =
  'Local development host only: no function keys, no Easy Auth (App Service authentication), no host.json ' +
  'settings; every function is reachable as if anonymous. In Azure, the Functions host and its front end provide those.';

function parseArgs(argv: readonly string[]): { appPath: string; list: boolean; startupTimers: boolean } {
  const flags = new Set(argv.filter((arg) => arg.startsWith('--')));
  const positional = argv.filter((arg) => !arg.startsWith('--'));
  const unknown = [...flags].filter((flag) => flag !== '--list' && flag !== '--no-startup-timers');
  if (unknown.length > 0)
    fail(`Unknown option ${unknown.join(', ')}. Usage: host.js [APP] [--list] [--no-startup-timers]`);
  return {
    appPath: positional[0] ?? path.resolve(__dirname, '..', 'app', 'index.js'),
    list: flags.has('--list'),
    startupTimers: !flags.has('--no-startup-timers'),
  };
}

function fail(message: string): never {
  process.stderr.write(`local host: ${message}\n`);
  process.exit(1);
}

function parsePort(raw: string | undefined): number {
  if (raw === undefined || raw === '') return 7071;
  if (!/^\d+$/.test(raw) || Number(raw) > 65535) fail(`PORT must be a whole number from 0 to 65535.`);
  return Number(raw);
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const port = parsePort(process.env.PORT);

  let functions;
  try {
    functions = loadAppCapturing(args.appPath);
  } catch (error) {
    const code = (error as { code?: string }).code;
    if (code === 'MODULE_NOT_FOUND' && String((error as Error).message).includes(path.resolve(args.appPath))) {
      fail(`no function app at ${args.appPath}. Run \`npm run build\` first.`);
    }
    // A configuration error names the setting and never its value (src/contract/config.ts).
    fail(`the function app failed to load: ${error instanceof Error ? error.message : String(error)}`);
  }
  if (args.list) {
    process.stdout.write(`${JSON.stringify(describeFunctions(functions))}\n`);
    process.exit(0);
  }
  if (functions.length === 0) fail(`${args.appPath} registered no functions.`);

  let host: RunningLocalHost;
  try {
    host = await startLocalHost({ functions, port, runOnStartup: args.startupTimers });
  } catch (error) {
    if ((error as { code?: string }).code === 'EADDRINUSE') {
      fail(
        `port ${port} on 127.0.0.1 is already in use (is another \`npm start\` running?). Stop it, or choose another port: PORT=7072 npm start`,
      );
    }
    fail(error instanceof Error ? error.message : String(error));
  }

  process.stderr.write(`local host: listening on ${host.url}\nlocal host: ${HONESTY_NOTE}\n`);
  for (const fn of host.functions) {
    if (fn.trigger === 'http' && 'route' in fn) {
      process.stderr.write(`local host:   ${fn.name}: [${fn.methods.join(',')}] ${host.url}/api/${fn.route}\n`);
    } else if (fn.trigger === 'timer' && 'schedule' in fn) {
      process.stderr.write(
        `local host:   ${fn.name}: timer "${fn.schedule}" (UTC)${fn.runOnStartup ? ', runs on startup' : ''}\n`,
      );
    } else {
      process.stderr.write(`local host:   ${fn.name}: ${fn.trigger} (not run by this host)\n`);
    }
  }
  process.stdout.write(
    `${hostLogLine('info', 'LocalHostListening', { url: host.url, functions: host.functions.map((f) => f.name) })}\n`,
  );
  let stopping = false;
  const stop = (reason: string): void => {
    if (stopping) return;
    stopping = true;
    process.stdout.write(`${hostLogLine('info', 'LocalHostStopping', { reason })}\n`);
    // The app may hold timers or sockets of its own; the host owns the process, so it ends it.
    void host.close().finally(() => process.exit(0));
    setTimeout(() => process.exit(0), 3000).unref();
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('disconnect', () => stop('parent gone'));
  // Only now: a parent that reacts by signalling us must find the handlers installed.
  process.send?.({ event: 'listening', url: host.url });
}

void main();
