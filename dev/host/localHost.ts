import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { InvocationContext } from '@azure/functions';
import type { CapturedFunction } from './functionRegistry';
import { describeError } from '../../src/platform/logger';
import { describeFunctions, type FunctionSummary, triggerBinding } from './describeFunctions';
import { toHttpRequest, writeHttpResponse } from './httpAdapter';
import { buildHttpRoutes, matchRoute } from './httpRoutes';
import { createInvocationLogHandler, hostLogLine, type LineWriter } from './invocationLog';
import { type RunningTimers, startTimerFunctions, type TimerInfo } from './timerScheduler';

export interface LocalHostOptions {
  /** The registrations to serve (from `loadAppCapturing`, or the jest-captured ones in tests). */
  functions: readonly CapturedFunction[];
  /** TCP port on 127.0.0.1; 0 = ephemeral. Default 7071. */
  port?: number;
  /** Run timer functions on their schedules (default true). */
  runTimers?: boolean;
  /** Honour `runOnStartup` (default true). */
  runOnStartup?: boolean;
  /** Where log lines go (default: stdout). */
  write?: LineWriter;
  /** Request bodies above this are refused with 413 before the function runs (default 1 MiB). */
  maxBodyBytes?: number;
}

export interface RunningLocalHost {
  /** `http://127.0.0.1:PORT` */
  readonly url: string;
  readonly port: number;
  readonly functions: readonly FunctionSummary[];
  /** Stops timers, closes the server and every open connection. */
  close(): Promise<void>;
}

const defaultWrite: LineWriter = (line) => {
  process.stdout.write(`${line}\n`);
};

/**
 * A local stand-in for the Azure Functions host: serves the captured HTTP functions under `/api/`
 * over node:http and runs the timer functions on their schedules. It has no function keys and no
 * Easy Auth (every function is reachable as if anonymous), no host.json processing, no scale-out.
 * @throws Error with `code: 'EADDRINUSE'` when the port is taken.
 */
export async function startLocalHost(options: LocalHostOptions): Promise<RunningLocalHost> {
  const write = options.write ?? defaultWrite;
  const maxBodyBytes = options.maxBodyBytes ?? 1024 * 1024;
  const routes = buildHttpRoutes(options.functions);
  let origin = 'http://127.0.0.1';

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const pathname = (req.url ?? '/').split('?', 1)[0] as string;
    const found = matchRoute(routes, req.method ?? 'GET', pathname);
    if (found.kind === 'none') {
      req.resume();
      res.writeHead(404, { 'content-length': '0' });
      res.end();
      return;
    }
    const body = await readBody(req, maxBodyBytes);
    if (body === undefined) {
      res.writeHead(413, { 'content-length': '0', connection: 'close' });
      res.end();
      return;
    }
    const fn = found.route.fn;
    const invocationId = randomUUID();
    const request = toHttpRequest(req, origin, body, found.params);
    const context = new InvocationContext({
      invocationId,
      functionName: fn.name,
      logHandler: createInvocationLogHandler(write, fn.name, invocationId),
      options: { trigger: triggerBinding(fn) as never },
    });
    let result: unknown;
    try {
      result = await fn.handler(request, context);
    } catch (error) {
      // As in Azure: the caller sees a bare 500, the log gets the error.
      write(hostLogLine('error', 'FunctionFailed', { function: fn.name, invocationId, error: describeError(error) }));
      if (!res.headersSent) res.writeHead(500, { 'content-length': '0' });
      res.end();
      return;
    }
    await writeHttpResponse(res, result);
  };

  const server: Server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      write(hostLogLine('error', 'HostRequestFailed', { error: describeError(error) }));
      if (!res.headersSent) res.writeHead(500, { 'content-length': '0' });
      res.end();
    });
  });
  // The Functions host keeps connections alive; autocannon and curl both benefit.
  server.keepAliveTimeout = 65_000;

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 7071, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  origin = `http://127.0.0.1:${port}`;

  let timers: RunningTimers | undefined;
  if (options.runTimers !== false) {
    try {
      timers = startTimerFunctions(options.functions, {
        runOnStartup: options.runOnStartup,
        invoke: (fn, timer) => invokeTimer(fn, timer, write),
      });
    } catch (error) {
      server.close();
      throw error;
    }
  }

  let closing: Promise<void> | undefined;
  return {
    url: origin,
    port,
    functions: describeFunctions(options.functions),
    close() {
      closing ??= new Promise<void>((resolve) => {
        timers?.stop();
        server.close(() => resolve());
        server.closeAllConnections();
      });
      return closing;
    },
  };
}

async function invokeTimer(fn: CapturedFunction, timer: TimerInfo, write: LineWriter): Promise<void> {
  const invocationId = randomUUID();
  const context = new InvocationContext({
    invocationId,
    functionName: fn.name,
    logHandler: createInvocationLogHandler(write, fn.name, invocationId),
    options: { trigger: triggerBinding(fn) as never },
  });
  try {
    await fn.handler(timer, context);
  } catch (error) {
    write(hostLogLine('error', 'FunctionFailed', { function: fn.name, invocationId, error: describeError(error) }));
  }
}

/** Reads the whole body, or undefined when it exceeds `limit` (the rest is drained, not buffered). */
function readBody(req: IncomingMessage, limit: number): Promise<Buffer | undefined> {
  const declared = Number(req.headers['content-length'] ?? '0');
  if (declared > limit) {
    req.resume();
    return Promise.resolve(undefined);
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let tooLarge = false;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) tooLarge = true;
      if (!tooLarge) chunks.push(chunk);
    });
    req.on('end', () => resolve(tooLarge ? undefined : chunks.length === 1 ? chunks[0] : Buffer.concat(chunks)));
    req.on('error', reject);
  });
}
