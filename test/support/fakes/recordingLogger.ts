/**
 * A real structured logger (createLogger, so redaction runs) whose lines are kept in memory:
 * `lines` holds the raw JSON text (search it for leaks), `records()` the parsed objects.
 * It is NOT given a SecretRegistry on purpose: leak checks must catch code that hands a credential
 * to the logger, not rely on the registry scrubbing it afterwards.
 */
import type { Clock } from '../../../src/platform/clock';
import { createLogger, type LogLevel, type Logger } from '../../../src/platform/logger';

export interface LogRecord {
  time: string;
  level: LogLevel;
  component: string;
  event: string;
  [field: string]: unknown;
}

export interface RecordingLogger {
  logger: Logger;
  lines: string[];
  records(): LogRecord[];
  /** Records of one event. */
  ofEvent(event: string): LogRecord[];
}

export function createRecordingLogger(options: { clock?: Clock; minLevel?: LogLevel } = {}): RecordingLogger {
  const lines: string[] = [];
  const logger = createLogger({
    sink: (line) => lines.push(line),
    clock: options.clock,
    minLevel: options.minLevel ?? 'debug',
  });
  const records = (): LogRecord[] => lines.map((line) => JSON.parse(line) as LogRecord);
  return { logger, lines, records, ofEvent: (event) => records().filter((record) => record.event === event) };
}
