/**
 * The workload's own token for the broker, from the credential it passed in: one acquisition at a
 * time, kept until its own refresh time (or two minutes before expiry), so a cold start of many
 * scopes still asks the workload's identity once.
 */
import type { AccessToken, TokenCredential } from '@azure/core-auth';
import { type AbortSignalLike, BrokerRequestError } from './errors';
import { SharedFlight } from './sharedFlight';

const EXPIRY_MARGIN_MS = 120_000;

export class CallerTokenSource {
  private cached: AccessToken | undefined;
  private readonly flight = new SharedFlight<AccessToken>();

  constructor(
    private readonly credential: TokenCredential,
    private readonly brokerScope: string,
    private readonly now: () => number,
  ) {}

  /**
   * The caller token to send to the broker.
   * @throws BrokerRequestError `caller_credential_failed` when the credential fails or returns
   * nothing; the abort error when `signal` fires.
   */
  async get(signal?: AbortSignalLike): Promise<string> {
    const cached = this.cached;
    if (cached && this.now() < refreshAt(cached)) return cached.token;
    const token = await this.flight.run((flightSignal) => this.acquire(flightSignal), signal);
    return token.token;
  }

  private async acquire(signal: AbortSignal): Promise<AccessToken> {
    let token: AccessToken | null;
    try {
      token = await this.credential.getToken(this.brokerScope, { abortSignal: signal });
    } catch (error) {
      if (signal.aborted) throw error;
      throw this.failure(
        `it failed: ${error instanceof Error ? `${error.name}: ${error.message}` : String(error)}`,
        error,
      );
    }
    if (!token?.token) throw this.failure('it returned no token.');
    this.cached = token;
    return token;
  }

  private failure(what: string, cause?: unknown): BrokerRequestError {
    return new BrokerRequestError(
      'caller_credential_failed',
      `The workload's own credential could not get a token for ${this.brokerScope}, so the broker was not called: ${what}`,
      { status: 0, scope: this.brokerScope, cause },
    );
  }
}

function refreshAt(token: AccessToken): number {
  const beforeExpiry = token.expiresOnTimestamp - EXPIRY_MARGIN_MS;
  return token.refreshAfterTimestamp === undefined ? beforeExpiry : Math.min(token.refreshAfterTimestamp, beforeExpiry);
}
