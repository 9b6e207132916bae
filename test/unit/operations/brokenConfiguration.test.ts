import { reportBrokenConfiguration } from '../../../src/operations/brokenConfiguration';
import { createLogger, type LogLevel } from '../../../src/platform/logger';

describe('a broker that cannot run says why, now and again', () => {
  it('logs ConfigurationInvalid at error level at once and on every repeat, naming the settings', () => {
    const lines: [LogLevel, Record<string, unknown>][] = [];
    const logger = createLogger({
      sink: (line, level) => lines.push([level, JSON.parse(line) as Record<string, unknown>]),
    });
    let tick: (() => void) | undefined;
    let everyMs = 0;
    reportBrokenConfiguration({
      logger,
      message: 'The broker cannot start: 1 setting is wrong. ENTRA_TENANT_ID must be a GUID.',
      repeatMs: 120_000,
      setInterval: (callback, ms) => {
        tick = callback;
        everyMs = ms;
        return {};
      },
    });
    expect(everyMs).toBe(120_000);
    tick!();
    tick!();
    expect(lines).toHaveLength(3);
    for (const [level, record] of lines) {
      expect(level).toBe('error');
      expect(record).toMatchObject({ event: 'ConfigurationInvalid', repeatEveryMinutes: 2 });
      expect(String(record.message)).toContain('ENTRA_TENANT_ID');
    }
  });
});
