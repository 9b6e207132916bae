import { createLogger, type Logger } from '../../src/platform/logger';

/** A logger that drops every line, for tests that do not look at logs. */
export const silentLogger: Logger = createLogger({ sink: () => undefined });
