import { createServer } from 'node:net';
import type { RunningEmulator } from '../../../dev/emulator';
import type { Clock } from '../../../src/platform/clock';
import { parseConfig, type BrokerConfig } from '../../../src/contract/config';
import { isBrokerError, type BrokerError, type BrokerErrorCode } from '../../../src/contract/errors';

export { useIdentityEnv } from '../../support/identityEnv';

export function configFor(emulator: RunningEmulator, overrides: Record<string, string> = {}): BrokerConfig {
  return parseConfig({ ...emulator.brokerSettings(), ...overrides });
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
