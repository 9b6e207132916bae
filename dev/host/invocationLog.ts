import { format } from 'node:util';

/** Where the host writes a finished log line (stdout in `main.ts`). */
export type LineWriter = (line: string) => void;

type FunctionsLogLevel = 'trace' | 'debug' | 'information' | 'warning' | 'error' | 'critical' | 'none';

const LEVELS: Readonly<Record<FunctionsLogLevel, string>> = {
  trace: 'debug',
  debug: 'debug',
  information: 'info',
  warning: 'warn',
  error: 'error',
  critical: 'error',
  none: 'info',
};

/** A JSON log line of the host itself, in the broker logger's shape (`time`, `level`, `component`, `event`). */
export function hostLogLine(level: string, event: string, fields: Record<string, unknown> = {}): string {
  return JSON.stringify({ time: new Date().toISOString(), level, component: 'LocalHost', event, ...fields });
}

/**
 * The `logHandler` of an `InvocationContext`. A message that already is one JSON object (the
 * broker's own logger output) passes through unchanged, so the stack's output stays one JSON object
 * per line; anything else is wrapped in a `FunctionLog` line naming the function and invocation.
 */
export function createInvocationLogHandler(
  write: LineWriter,
  functionName: string,
  invocationId: string,
): (level: FunctionsLogLevel, ...args: unknown[]) => void {
  return (level, ...args) => {
    if (args.length === 1 && typeof args[0] === 'string' && isJsonObjectLine(args[0])) {
      write(args[0]);
      return;
    }
    write(
      hostLogLine(LEVELS[level] ?? 'info', 'FunctionLog', {
        function: functionName,
        invocationId,
        message: format(...args),
      }),
    );
  };
}

function isJsonObjectLine(text: string): boolean {
  if (!text.startsWith('{') || !text.endsWith('}') || text.includes('\n')) return false;
  try {
    const parsed: unknown = JSON.parse(text);
    return parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed);
  } catch {
    return false;
  }
}
