import { createServer } from 'node:net';
import type { RunningEmulator } from '../../../dev/emulator';
import type { Clock } from '../../../src/core/clock';
import { parseConfig, type BrokerConfig } from '../../../src/core/config';
import { isBrokerError, type BrokerError, type BrokerErrorCode } from '../../../src/core/errors';
import { createLogger, type Logger } from '../../../src/core/logger';

/**
 * A logger that keeps every line it writes, at every level, so tests can look for leaks. It is NOT
 * given the SecretRegistry on purpose: the leak checks must catch code that hands a credential to
 * the logger, not rely on the registry scrubbing it afterwards.
 */
export function capturingLogger(): { logger: Logger; lines: string[] } {
  const lines: string[] = [];
  return { logger: createLogger({ sink: (line) => lines.push(line), minLevel: 'debug' }), lines };
}

export function configFor(emulator: RunningEmulator, overrides: Record<string, string> = {}): BrokerConfig {
  return parseConfig({ ...emulator.brokerSettings(), ...overrides });
}

/** Points the SDK's managed identity at the emulator for the whole file; returns the restore function. */
export function useIdentityEnv(emulator: RunningEmulator): () => void {
  const saved = { endpoint: process.env.IDENTITY_ENDPOINT, header: process.env.IDENTITY_HEADER };
  process.env.IDENTITY_ENDPOINT = emulator.identityEndpoint;
  process.env.IDENTITY_HEADER = emulator.identityHeader;
  return () => {
    for (const [name, value] of [
      ['IDENTITY_ENDPOINT', saved.endpoint],
      ['IDENTITY_HEADER', saved.header],
    ] as const) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
  };
}

/** Collects every error the tests saw, to check afterwards that none carries a credential. */
export class ErrorLog {
  readonly errors: BrokerError[] = [];

  async expectCode(work: Promise<unknown>, code: BrokerErrorCode): Promise<BrokerError> {
    let thrown: unknown;
    try {
      await work;
    } catch (error) {
      thrown = error;
    }
    if (!isBrokerError(thrown)) throw new Error(`expected BrokerError ${code}, got ${String(thrown)}`);
    this.errors.push(thrown);
    if (thrown.code !== code) throw new Error(`expected ${code}, got ${thrown.code}: ${thrown.message}`);
    return thrown;
  }

  /** Messages, codes and causes (name, message, stack) as one string. */
  text(): string {
    return this.errors
      .map((error) => {
        const cause = error.cause as Error | undefined;
        return [error.message, JSON.stringify(error), cause?.message, cause?.stack, JSON.stringify(cause)].join('\n');
      })
      .join('\n');
  }
}

export function fixedClock(startMs: number): Clock & { set(ms: number): void } {
  let now = startMs;
  return { now: () => now, set: (ms) => (now = ms) };
}

/** A localhost port nothing listens on (bound, then released). */
export async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (address === null || typeof address === 'string') throw new Error('no port');
  return address.port;
}
