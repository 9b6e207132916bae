import { AsyncLocalStorage } from 'node:async_hooks';
import type { InvocationContext } from '@azure/functions';
import type { LogSink } from '../platform/logger';

/**
 * Ties the broker's log lines to the invocation that is serving a request, the way the Node.js
 * worker expects: through that invocation's context (`context.info` / `warn` / `error`). The host
 * then logs them as the function's own lines (category `Function.<name>.User`), with the
 * invocation's ID and operation ID, so in Application Insights a request and its `TokenRequest`
 * audit line share an operation ID and keep their level. Lines written to stdout/stderr instead are
 * process-level: the host cannot tell which invocation wrote them and guesses their level from
 * their text.
 *
 * Lines written outside a request (the warm-up timer, alerts, startup) stay process-level, and so
 * do lines of work a request started but that outlives it (a refresh-ahead finishing later): the
 * worker has closed that invocation by then.
 */
interface InvocationScope {
  readonly context: InvocationContext;
  open: boolean;
}

const currentInvocation = new AsyncLocalStorage<InvocationScope>();

/** Runs `work` with every line the broker logs during it tied to `context`. */
export async function runInInvocation<T>(context: InvocationContext, work: () => Promise<T>): Promise<T> {
  const scope: InvocationScope = { context, open: true };
  try {
    return await currentInvocation.run(scope, work);
  } finally {
    scope.open = false;
  }
}

/** A sink that sends a line to the current invocation's context, or to `processSink` when there is none. */
export function createInvocationLogSink(processSink: LogSink): LogSink {
  return (line, level) => {
    const scope = currentInvocation.getStore();
    if (scope === undefined || !scope.open) {
      processSink(line, level);
      return;
    }
    if (level === 'error') scope.context.error(line);
    else if (level === 'warn') scope.context.warn(line);
    else if (level === 'debug') scope.context.debug(line);
    else scope.context.info(line);
  };
}
