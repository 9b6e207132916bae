/**
 * Reads the console output of the Azure Functions host (`func start`), which the .NET console
 * logger writes as records: a header `info: Category[eventId]` followed by the message, each of
 * its lines indented by six spaces. This turns the stream into what a reader of `npm start` wants:
 * the broker's own JSON log lines exactly as the broker wrote them (one per line, nothing in front,
 * as under dev/host), and every other record as `level Category: first line` plus its further lines.
 */

export interface HostRecordLine {
  /** `info`, `warn`, `fail`, … of the record the line belongs to (undefined: not in a record). */
  readonly level: string | undefined;
  readonly category: string | undefined;
  /** The line to show: a JSON log line unchanged, anything else as described above. */
  readonly text: string;
  /** True for a broker JSON log line (the message starts with `{` and parses). */
  readonly json: boolean;
}

const HEADER = /^(trce|dbug|info|warn|fail|crit): (\S+?)(?:\[\d+\])?$/;
const INDENT = '      ';

/** A line-by-line reader of the host's console: feed it lines, it calls `emit` with what to show. */
export function createHostOutputReader(emit: (line: HostRecordLine) => void): (line: string) => void {
  let level: string | undefined;
  let category: string | undefined;
  let headerPending = false;
  const flushHeader = (): void => {
    if (headerPending) emit({ level, category, text: `${level} ${category}`, json: false });
    headerPending = false;
  };
  return (line: string) => {
    const header = HEADER.exec(line);
    if (header) {
      flushHeader();
      level = header[1];
      category = header[2];
      headerPending = true;
      return;
    }
    if (level !== undefined && line.startsWith(INDENT)) {
      const message = line.slice(INDENT.length);
      if (isJsonLine(message)) {
        // The header said nothing the JSON line does not: drop it.
        headerPending = false;
        emit({ level, category, text: message, json: true });
      } else if (headerPending) {
        headerPending = false;
        emit({ level, category, text: `${level} ${category}: ${message}`, json: false });
      } else {
        emit({ level, category, text: `  ${message.trimEnd()}`, json: false });
      }
      return;
    }
    flushHeader();
    level = undefined;
    category = undefined;
    if (isJsonLine(line)) emit({ level: undefined, category: undefined, text: line, json: true });
    else if (line.trim() !== '') emit({ level: undefined, category: undefined, text: line, json: false });
  };
}

function isJsonLine(text: string): boolean {
  if (!text.startsWith('{') || !text.trimEnd().endsWith('}')) return false;
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
}
