import type { InvocationContext } from '@azure/functions';
import { type LogSink, processLogSink } from '../platform/logger';

/**
 * Ties a request's own log lines to the invocation serving it, the way the Node.js worker expects:
 * through that invocation's context (`context.info` / `warn` / `error`). The host then logs them as
 * the function's own lines (category `Function.<name>.User`), with the invocation's ID and
 * operation ID, so in Application Insights a request and its `TokenRequest` audit line share an
 * operation ID and keep their level. Lines written to stdout/stderr instead are process-level: the
 * host cannot tell which invocation wrote them and guesses their level from their text.
 *
 * The HTTP adapter opens one per request and hands its sink to the handler, which writes the lines
 * that belong to that request (its audit line, an unexpected error) through it. Lines of work that
 * is not one request's (the warm-up timer, alerts, start-up, a token acquisition shared by every
 * caller waiting for it, a refresh-ahead) stay process-level, and so does anything written after the
 * invocation ended: the worker has closed it by then.
 *
 * Handed down explicitly, not found through an AsyncLocalStorage: that would make Node.js run a hook
 * for every promise the worker creates — its own gRPC and HTTP machinery included — on every
 * request; on the real runtime it cost about 150 µs of worker CPU per cache-hit request, more than
 * the broker's own work (docs/functions-runtime.md).
 */
export interface InvocationLog {
  /** Lines for the invocation's context while it is open, for `processSink` after. */
  readonly sink: LogSink;
  /** The invocation ended: later lines are process-level. */
  close(): void;
}

export function openInvocationLog(context: InvocationContext, processSink: LogSink = processLogSink): InvocationLog {
  let open = true;
  return {
    sink: (line, level) => {
      if (!open) processSink(line, level);
      else if (level === 'error') context.error(line);
      else if (level === 'warn') context.warn(line);
      else if (level === 'debug') context.debug(line);
      else context.info(line);
    },
    close: () => {
      open = false;
    },
  };
}
