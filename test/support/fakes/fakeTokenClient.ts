/**
 * A scripted TokenClient. Each `acquire` is recorded in `calls`, then answered by, in order:
 * a refusal registered for the credential's version (`refuseVersion`), the next queued step
 * (`succeed`, `fail`, `timeout`, `hang`, `gate`), or by default a token living
 * `defaultLifetimeSeconds` from the clock's now (expiry from receive time, like the real client).
 * Tokens are `fake-access-token-N` (not JWT-shaped, so a leak check can search for them).
 * `entraErrors` builds the BrokerErrors the real client throws.
 */
import { BrokerError } from '../../../src/contract/errors';
import type { ClientCredential } from '../../../src/credentials/credentialTypes';
import type { AcquiredToken, TokenClient } from '../../../src/tokens/tokenClient';
import type { FakeClock } from './fakeClock';

export interface FakeTokenSpec {
  lifetimeSeconds?: number;
  /** Entra's `refresh_in`. */
  refreshInSeconds?: number;
}

export interface FakeTokenCall {
  scope: string;
  credentialVersion: string;
  timeoutMs: number | undefined;
  atMs: number;
}

/** A request held open until the test releases it. */
export interface Gate {
  /** Resolves once the held request has arrived. */
  readonly arrived: Promise<void>;
  succeed(spec?: FakeTokenSpec): void;
  fail(error: Error): void;
}

type Step =
  | { kind: 'token'; spec: FakeTokenSpec }
  | { kind: 'error'; error: Error }
  | { kind: 'timeout' }
  | { kind: 'hang' }
  | { kind: 'gate'; wait: Promise<FakeTokenSpec>; arrive: () => void };

export class FakeTokenClient implements TokenClient {
  readonly calls: FakeTokenCall[] = [];
  defaultLifetimeSeconds = 3600;
  private readonly steps: Step[] = [];
  private readonly refusals = new Map<string, Error>();
  private issued = 0;

  constructor(private readonly clock: FakeClock) {}

  succeed(spec: FakeTokenSpec = {}): this {
    this.steps.push({ kind: 'token', spec });
    return this;
  }

  fail(error: Error, times = 1): this {
    for (let i = 0; i < times; i += 1) this.steps.push({ kind: 'error', error });
    return this;
  }

  /** Like the real client on a hung endpoint: moves the clock by the request's `timeoutMs`, then throws `entra_timeout`. */
  timeout(times = 1): this {
    for (let i = 0; i < times; i += 1) this.steps.push({ kind: 'timeout' });
    return this;
  }

  /** Never settles (tests the engine's own backstop; needs real timers). */
  hang(): this {
    this.steps.push({ kind: 'hang' });
    return this;
  }

  /** Holds the next request open until `gate.succeed()` / `gate.fail()`. */
  gate(): Gate {
    let release!: (spec: FakeTokenSpec) => void;
    let reject!: (error: Error) => void;
    let arrive!: () => void;
    const wait = new Promise<FakeTokenSpec>((resolve, fail) => {
      release = resolve;
      reject = fail;
    });
    const arrived = new Promise<void>((resolve) => (arrive = resolve));
    this.steps.push({ kind: 'gate', wait, arrive });
    return { arrived, succeed: (spec = {}) => release(spec), fail: (error) => reject(error) };
  }

  /** Every request with this credential version fails with `error` (default: AADSTS7000215). */
  refuseVersion(version: string, error: Error = entraErrors.credentialRejected()): this {
    this.refusals.set(version, error);
    return this;
  }

  /** Steps queued and not yet used. */
  get pending(): number {
    return this.steps.length;
  }

  /** No metadata to read: the fake serves tokens directly. */
  warmUp(): Promise<boolean> {
    return Promise.resolve(true);
  }

  async acquire(credential: ClientCredential, scope: string, options?: { timeoutMs?: number }): Promise<AcquiredToken> {
    this.calls.push({
      scope,
      credentialVersion: credential.properties.version,
      timeoutMs: options?.timeoutMs,
      atMs: this.clock.now(),
    });
    await Promise.resolve();
    const refusal = this.refusals.get(credential.properties.version);
    if (refusal) throw refusal;
    const step = this.steps.shift() ?? { kind: 'token', spec: {} };
    switch (step.kind) {
      case 'token':
        return this.issue(step.spec);
      case 'error':
        throw step.error;
      case 'timeout':
        this.clock.advance(options?.timeoutMs ?? 5000);
        throw new BrokerError('entra_timeout', 'The token request to Entra did not complete in time.');
      case 'hang':
        return new Promise<AcquiredToken>(() => undefined);
      case 'gate': {
        step.arrive();
        const spec = await step.wait;
        return this.issue(spec);
      }
    }
  }

  private issue(spec: FakeTokenSpec): AcquiredToken {
    this.issued += 1;
    const now = this.clock.now();
    return {
      accessToken: `fake-access-token-${this.issued}`,
      expiresOnMs: now + (spec.lifetimeSeconds ?? this.defaultLifetimeSeconds) * 1000,
      refreshAfterMs: spec.refreshInSeconds === undefined ? undefined : now + spec.refreshInSeconds * 1000,
    };
  }
}

/** The BrokerErrors the real TokenClient throws, for scripting. */
export const entraErrors = {
  transient: (status = 503): BrokerError =>
    new BrokerError('entra_transient', 'Entra answered with a server error.', { upstreamStatus: status }),
  timeout: (): BrokerError => new BrokerError('entra_timeout', 'The token request to Entra did not complete in time.'),
  malformed: (): BrokerError =>
    new BrokerError('entra_malformed_response', 'Entra answered 200 without a usable token.', { upstreamStatus: 200 }),
  throttled: (retryAfterSeconds?: number): BrokerError =>
    new BrokerError('entra_throttled', 'Entra is throttling the broker.', {
      upstreamStatus: 429,
      ...(retryAfterSeconds === undefined ? {} : { retryAfterSeconds }),
    }),
  configuration: (aadsts = 70011): BrokerError =>
    new BrokerError('entra_configuration', 'Entra refused the request as misconfigured.', {
      upstreamStatus: 400,
      upstreamError: 'invalid_scope',
      aadsts,
      correlationId: 'corr-config',
    }),
  credentialRejected: (): BrokerError =>
    new BrokerError('entra_credential_rejected', 'Entra rejected the client credential.', {
      upstreamStatus: 401,
      upstreamError: 'invalid_client',
      aadsts: 7000215,
      correlationId: 'corr-rejected',
    }),
  credentialExpired: (): BrokerError =>
    new BrokerError('entra_credential_expired', 'Entra reports the client credential as expired.', {
      upstreamStatus: 401,
      upstreamError: 'invalid_client',
      aadsts: 7000222,
    }),
};
