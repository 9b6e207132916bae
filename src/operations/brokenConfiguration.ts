import type { Logger } from '../platform/logger';

/** How often a broker that cannot run says so again (the first line may be long gone from a live view). */
export const BROKEN_CONFIGURATION_REPEAT_MS = 5 * 60_000;

export interface BrokenConfigurationOptions {
  readonly logger: Logger;
  /** The `config_invalid` message: every wrong setting by name, never a value. */
  readonly message: string;
  readonly repeatMs?: number;
  readonly setInterval?: (callback: () => void, ms: number) => { unref?(): unknown };
}

/**
 * Logs `ConfigurationInvalid` at error level now and again every `repeatMs`, for as long as the
 * process lives: the app answers 503 to everyone meanwhile, and whoever looks at the log (or an
 * alert on error-level lines) must learn which settings to fix.
 */
export function reportBrokenConfiguration(options: BrokenConfigurationOptions): void {
  const log = options.logger.child('Startup');
  const repeatMs = options.repeatMs ?? BROKEN_CONFIGURATION_REPEAT_MS;
  const report = (): void =>
    log.error('ConfigurationInvalid', { message: options.message, repeatEveryMinutes: repeatMs / 60_000 });
  report();
  const timer = (options.setInterval ?? setInterval)(report, repeatMs);
  // Never the reason the process stays up: the host (or dev/host) owns its lifetime.
  timer.unref?.();
}
