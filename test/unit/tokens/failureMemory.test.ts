import type { ClientCredential } from '../../../src/credentials/credentialTypes';
import {
  BrokerError,
  CONFIGURATION_FAILURE_MEMORY_MS,
  CREDENTIAL_FAILURE_MEMORY_MS,
  KEY_VAULT_FAILURE_MEMORY_MS,
} from '../../../src/contract/errors';
import {
  DEFAULT_RETRY_AFTER_SECONDS,
  DEFAULT_THROTTLE_SECONDS,
  MAX_RETRY_AFTER_SECONDS,
} from '../../../src/contract/retryAfter';
import { FailureMemory } from '../../../src/tokens/failureMemory';
import { FakeClock } from '../../support/fakes/fakeClock';
import { createRecordingLogger } from '../../support/fakes/recordingLogger';

const SECOND = 1000;

function setup() {
  const clock = new FakeClock();
  const log = createRecordingLogger({ clock });
  let loadedVersion: string | undefined = 'v1';
  const credentialSource = {
    peek: (): ClientCredential | undefined =>
      loadedVersion === undefined
        ? undefined
        : ({ kind: 'secret', secret: 'unused', properties: { version: loadedVersion } } as ClientCredential),
  };
  const memory = new FailureMemory({ clock, credentialSource, logger: log.logger });
  const load = (version: string | undefined): void => {
    loadedVersion = version;
  };
  return { clock, log, memory, load };
}

describe('FailureMemory throttle gate', () => {
  it('refuses every scope during a 429 pause without Retry-After, for DEFAULT_THROTTLE_SECONDS, and logs EntraThrottled', () => {
    const { memory, clock, log } = setup();
    memory.openThrottle(new BrokerError('entra_throttled', 'throttled'), 'scope-a');

    expect(memory.refusal('scope-b', clock.now())).toMatchObject({
      code: 'entra_throttled',
      retryAfterSeconds: DEFAULT_THROTTLE_SECONDS,
    });
    expect(() => memory.assertNotThrottled(clock.now())).toThrow(BrokerError);
    expect(log.ofEvent('EntraThrottled')).toEqual([
      expect.objectContaining({ scope: 'scope-a', retryAfterSeconds: DEFAULT_THROTTLE_SECONDS }),
    ]);

    clock.advance(DEFAULT_THROTTLE_SECONDS * SECOND);
    expect(memory.refusal('scope-b', clock.now())).toBeUndefined();
    expect(() => memory.assertNotThrottled(clock.now())).not.toThrow();
  });

  it('caps Retry-After at MAX_RETRY_AFTER_SECONDS and never lets a shorter pause cut a longer one short', () => {
    const { memory, clock } = setup();
    memory.openThrottle(new BrokerError('entra_throttled', 'long', { retryAfterSeconds: 100_000 }), 'scope-a');
    memory.openThrottle(new BrokerError('entra_throttled', 'short', { retryAfterSeconds: 2 }), 'scope-b');

    clock.advance(10 * SECOND);
    expect(memory.refusal('scope-a', clock.now())?.retryAfterSeconds).toBe(MAX_RETRY_AFTER_SECONDS - 10);
    clock.advance((MAX_RETRY_AFTER_SECONDS - 10) * SECOND);
    expect(memory.refusal('scope-a', clock.now())).toBeUndefined();
  });
});

describe('FailureMemory remembered failures', () => {
  it('remembers a configuration failure for CONFIGURATION_FAILURE_MEMORY_MS, for that scope only', () => {
    const { memory, clock } = setup();
    const until = memory.recordFailure(
      'scope-a',
      new BrokerError('entra_configuration', 'bad scope'),
      'v1',
      clock.now(),
    );

    expect(until).toBe(clock.now() + CONFIGURATION_FAILURE_MEMORY_MS);
    expect(memory.refusal('scope-a', clock.now())).toMatchObject({
      code: 'entra_configuration',
      retryAfterSeconds: CONFIGURATION_FAILURE_MEMORY_MS / SECOND,
    });
    expect(memory.refusal('scope-b', clock.now())).toBeUndefined();
    clock.advance(CONFIGURATION_FAILURE_MEMORY_MS);
    expect(memory.refusal('scope-a', clock.now())).toBeUndefined();
  });

  it('remembers a refused credential only while the refused version is still the one loaded', () => {
    const { memory, clock, load } = setup();
    memory.recordFailure('scope-a', new BrokerError('entra_credential_rejected', 'refused'), 'v1', clock.now());
    expect(memory.refusal('scope-a', clock.now())?.retryAfterSeconds).toBe(CREDENTIAL_FAILURE_MEMORY_MS / SECOND);

    load('v2');
    expect(memory.refusal('scope-a', clock.now())).toBeUndefined();
  });

  it('remembers a Key Vault refusal whatever version is loaded', () => {
    const { memory, clock, load } = setup();
    memory.recordFailure('scope-a', new BrokerError('keyvault_forbidden', 'denied'), undefined, clock.now());
    load('v2');
    expect(memory.refusal('scope-a', clock.now())?.retryAfterSeconds).toBe(KEY_VAULT_FAILURE_MEMORY_MS / SECOND);
  });

  it('does not remember a transient failure, but keeps failingSince until a success', () => {
    const { memory, clock } = setup();
    const firstFailureMs = clock.now();
    expect(
      memory.recordFailure('scope-a', new BrokerError('entra_transient', '503'), 'v1', clock.now()),
    ).toBeUndefined();
    expect(memory.refusal('scope-a', clock.now())).toBeUndefined();

    clock.advance(5 * SECOND);
    memory.recordFailure('scope-a', new BrokerError('entra_transient', '503'), 'v1', clock.now());
    expect(memory.failingSinceMs('scope-a')).toBe(firstFailureMs);

    memory.recordSuccess('scope-a');
    expect(memory.failingSinceMs('scope-a')).toBeUndefined();
  });
});

describe('FailureMemory Retry-After for callers', () => {
  it('derives retryAfterSeconds from the pause, the memory, upstream, or the failure kind', () => {
    const { memory, clock } = setup();
    const now = clock.now();
    expect(
      memory.withDerivedRetryAfter(new BrokerError('entra_transient', 'x'), undefined, now).retryAfterSeconds,
    ).toBe(DEFAULT_RETRY_AFTER_SECONDS);
    expect(
      memory.withDerivedRetryAfter(new BrokerError('entra_transient', 'x'), now + 12_500, now).retryAfterSeconds,
    ).toBe(13);
    expect(
      memory.withDerivedRetryAfter(
        new BrokerError('entra_transient', 'x', { retryAfterSeconds: 100_000 }),
        undefined,
        now,
      ).retryAfterSeconds,
    ).toBe(MAX_RETRY_AFTER_SECONDS);
    expect(
      memory.withDerivedRetryAfter(new BrokerError('keyvault_not_found', 'x'), undefined, now).retryAfterSeconds,
    ).toBe(CREDENTIAL_FAILURE_MEMORY_MS / SECOND);
    expect(
      memory.withDerivedRetryAfter(new BrokerError('token_lifetime_too_short', 'x'), undefined, now).retryAfterSeconds,
    ).toBe(CONFIGURATION_FAILURE_MEMORY_MS / SECOND);

    memory.openThrottle(new BrokerError('entra_throttled', 'x', { retryAfterSeconds: 42 }), 'scope-a');
    expect(memory.withDerivedRetryAfter(new BrokerError('entra_throttled', 'x')).retryAfterSeconds).toBe(42);
  });
});
