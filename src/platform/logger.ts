import { type Clock, systemClock } from './clock';
import { BrokerError } from '../contract/errors';
import { redactText, type SecretRegistry } from './redact';

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
export type LogFields = Readonly<Record<string, unknown>>;

/**
 * Structured logger: one JSON object per line with `time`, `level`, `component` and `event`.
 * Every string that reaches a line is scrubbed of JWTs, secrets, PEM blocks and `Authorization`
 * values, so an accidental field cannot leak a credential.
 */
export interface Logger {
  debug(event: string, fields?: LogFields): void;
  info(event: string, fields?: LogFields): void;
  warn(event: string, fields?: LogFields): void;
  error(event: string, fields?: LogFields): void;
  /** A logger whose lines carry `component` (e.g. `TokenEngine`). */
  child(component: string): Logger;
  /** The same logger (component, level, scrubbing) writing to `sink`: e.g. one request's invocation. */
  withSink(sink: LogSink): Logger;
}

export type LogSink = (line: string, level: LogLevel) => void;

export interface LoggerOptions {
  sink?: LogSink;
  clock?: Clock;
  component?: string;
  minLevel?: LogLevel;
  secrets?: SecretRegistry;
}

const LEVEL_ORDER: Readonly<Record<LogLevel, number>> = { debug: 10, info: 20, warn: 30, error: 40 };

// Where lines go in Azure: the Node worker does not intercept `console` (hence the
// azure-function-log-intercept package); `console.info` is a synchronous write of the line to the
// worker process's stdout, which the Functions host collects line by line. That write — a system
// call per request for the audit line — was the largest single cost of a cache-hit token request.
// So info and debug lines are collected and written with ONE `process.stdout.write` per
// event-loop turn (setImmediate), each still its own newline-terminated JSON line: what reaches
// stdout, and so the host, is the same lines as before. Warnings and errors go out at once, as
// before (console.warn / console.error, stderr): they are rare and must not wait. What is pending
// is written synchronously when the process exits (`exit`, which also runs after an uncaught
// exception or `process.exit()`); only a SIGKILL can lose the lines of the current turn.
const pendingLines: string[] = [];
let flushScheduled = false;
let exitHookInstalled = false;

function flushPendingLines(): void {
  flushScheduled = false;
  if (pendingLines.length === 0) return;
  const chunk = `${pendingLines.join('\n')}\n`;
  pendingLines.length = 0;
  // As console.info does: a broken stdout (EPIPE, closed pipe) must not take the broker down,
  // whether the error comes synchronously or as an 'error' event.
  const stdout = process.stdout;
  if (stdout.listenerCount('error') === 0) stdout.once('error', ignoreStdoutError);
  try {
    stdout.write(chunk, (error) => {
      // An asynchronous failure (a pipe) is reported here first, then as an 'error' event.
      if (error && stdout.listenerCount('error') === 0) stdout.once('error', ignoreStdoutError);
    });
  } catch {
    // Dropped, as console would drop it.
  } finally {
    stdout.removeListener('error', ignoreStdoutError);
  }
}

function ignoreStdoutError(): void {}

/**
 * The process's own output: what the Functions host records as process-level lines (category
 * `Host.Function.Console`, level read from the text), not tied to any invocation.
 */
export const processLogSink: LogSink = (line, level) => {
  if (level === 'error') console.error(line);
  else if (level === 'warn') console.warn(line);
  else {
    pendingLines.push(line);
    if (!flushScheduled) {
      flushScheduled = true;
      if (!exitHookInstalled) {
        exitHookInstalled = true;
        process.once('exit', flushPendingLines);
      }
      setImmediate(flushPendingLines);
    }
  }
};

export function createLogger(options: LoggerOptions = {}): Logger {
  const defaultSink = options.sink ?? processLogSink;
  const clock = options.clock ?? systemClock;
  const minLevel = LEVEL_ORDER[options.minLevel ?? 'info'];
  const secrets = options.secrets;
  // The ISO time of the last line, reused while the clock stays on the same millisecond (a busy
  // instance writes many audit lines per millisecond; formatting a Date is a third of a line's cost).
  let lastTimeMs = NaN;
  let lastTime = '';
  const isoTime = (ms: number): string => {
    if (ms !== lastTimeMs) {
      lastTime = new Date(ms).toISOString();
      lastTimeMs = ms;
    }
    return lastTime;
  };

  const make = (component: string, sink: LogSink): Logger => {
    const write = (level: LogLevel, event: string, fields?: LogFields): void => {
      if (LEVEL_ORDER[level] < minLevel) return;
      const record: Record<string, unknown> = {
        time: isoTime(clock.now()),
        level,
        component,
        event,
      };
      if (fields) {
        // for…in over own keys, skipping undefined values (JSON.stringify drops them anyway): the
        // same line as Object.entries gives, without an array per field on every request.
        for (const key in fields) {
          if (!Object.hasOwn(fields, key) || key in record) continue;
          const value = fields[key];
          if (value !== undefined) record[key] = sanitizeValue(value, secrets, 0);
        }
      }
      let line: string;
      try {
        line = JSON.stringify(record);
      } catch {
        line = JSON.stringify({ time: record.time, level, component, event, logError: 'unserializable fields' });
      }
      sink(redactText(line, secrets), level);
    };
    return {
      debug: (event, fields) => write('debug', event, fields),
      info: (event, fields) => write('info', event, fields),
      warn: (event, fields) => write('warn', event, fields),
      error: (event, fields) => write('error', event, fields),
      child: (name) => make(component ? `${component}.${name}` : name, sink),
      withSink: (other) => make(component, other),
    };
  };
  return make(options.component ?? 'broker', defaultSink);
}

function sanitizeValue(value: unknown, secrets: SecretRegistry | undefined, depth: number): unknown {
  if (typeof value === 'string') return redactText(value, secrets);
  if (value instanceof Error) return describeError(value, secrets);
  if (value === null || typeof value !== 'object') return value;
  if (depth > 4) return '[depth]';
  if (Array.isArray(value)) return value.slice(0, 50).map((item) => sanitizeValue(item, secrets, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [key, item] of Object.entries(value as Record<string, unknown>)) {
    out[key] = sanitizeValue(item, secrets, depth + 1);
  }
  return out;
}

/**
 * What may be logged of an error: our own code and message, upstream status and codes, and a
 * scrubbed stack. Never the request options of an HTTP client error (they can hold the form body
 * with `client_secret`) and never upstream free text beyond what `redactText` lets through.
 */
export function describeError(error: unknown, secrets?: SecretRegistry): Record<string, unknown> {
  if (error instanceof BrokerError) {
    const described: Record<string, unknown> = {
      name: error.name,
      code: error.code,
      message: redactText(error.message, secrets),
    };
    if (error.upstreamStatus !== undefined) described.upstreamStatus = error.upstreamStatus;
    if (error.upstreamError !== undefined) described.upstreamError = error.upstreamError;
    if (error.aadsts !== undefined) described.aadsts = error.aadsts;
    if (error.correlationId !== undefined) described.correlationId = error.correlationId;
    if (error.traceId !== undefined) described.traceId = error.traceId;
    if (error.cause !== undefined) described.cause = describeCause(error.cause, secrets);
    return described;
  }
  return describeCause(error, secrets);
}

function describeCause(cause: unknown, secrets?: SecretRegistry): Record<string, unknown> {
  if (cause instanceof BrokerError) return describeError(cause, secrets);
  if (cause instanceof Error) {
    const withCode = cause as Error & { code?: unknown; statusCode?: unknown };
    const described: Record<string, unknown> = {
      name: cause.name,
      message: redactText(cause.message, secrets).slice(0, 500),
    };
    if (typeof withCode.code === 'string' || typeof withCode.code === 'number') described.code = withCode.code;
    if (typeof withCode.statusCode === 'number') described.status = withCode.statusCode;
    if (cause.stack) described.stack = redactText(cause.stack, secrets).split('\n').slice(0, 8).join('\n');
    return described;
  }
  return { value: redactText(String(cause), secrets).slice(0, 200) };
}
