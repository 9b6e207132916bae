import { BrokerError } from '../contract/errors';

/** The times of a token as `TokenClient` reports them (receive time + `expires_in`, on the injected clock). */
export interface TokenTimes {
  readonly expiresOnMs: number;
  /** From Entra's `refresh_in`, if it sent one. */
  readonly refreshAfterMs: number | undefined;
}

/**
 * Shortest lifetime taken as real. MSAL turns a missing, zero or unparseable `expires_in` into 0 and
 * rounds to whole seconds, so such an answer shows up as a token living under a second or two; Entra
 * itself never issues tokens below 10 minutes. Shorter → `entra_malformed_response` (retried).
 */
export const MIN_PLAUSIBLE_LIFETIME_MS = 5_000;

/**
 * The one place that judges a token's lifetime: whether a token just received can be used at all,
 * whether a cached one may still be served, and when it is refreshed. Expiry is always receive
 * time + `expires_in` on the injected clock (from `TokenClient`); the JWT's `exp` is never read.
 */
export class TokenLifetime {
  private readonly minLifetimeMs: number;

  /** @param minLifetimeSeconds TOKEN_MIN_LIFETIME_SECONDS: no token with less left is handed out. */
  constructor(private readonly minLifetimeSeconds: number) {
    this.minLifetimeMs = minLifetimeSeconds * 1000;
  }

  /**
   * Why a token received at `nowMs` cannot be used; undefined when it can.
   * `entra_malformed_response` when its lifetime is implausible (a broken answer, worth asking
   * again); `token_lifetime_too_short` when it is real but shorter than the minimum (a token
   * lifetime policy in the tenant: asking again gives the same).
   */
  problemWith(token: TokenTimes, nowMs: number): BrokerError | undefined {
    const lifetimeMs = token.expiresOnMs - nowMs;
    if (lifetimeMs < MIN_PLAUSIBLE_LIFETIME_MS) {
      return new BrokerError(
        'entra_malformed_response',
        'Entra answered with a missing, zero or unreadable token lifetime.',
      );
    }
    if (lifetimeMs < this.minLifetimeMs) {
      return new BrokerError(
        'token_lifetime_too_short',
        `Entra issued a token with ${Math.max(0, Math.floor(lifetimeMs / 1000))} s left, less than TOKEN_MIN_LIFETIME_SECONDS (${this.minLifetimeSeconds}); lower the setting or the tenant's token lifetime policy.`,
      );
    }
    return undefined;
  }

  /** Whether a token expiring at `expiresOnMs` may be handed out at `nowMs`. */
  isServable(expiresOnMs: number, nowMs: number): boolean {
    return expiresOnMs - nowMs >= this.minLifetimeMs;
  }

  /**
   * When the broker refreshes a token received at `receivedAtMs`: half its lifetime or Entra's
   * `refresh_in`, whichever is first; if that would fall after the token stops being servable
   * (lifetime under twice the minimum), half of the servable window instead, so a refresh still
   * starts while it is served.
   */
  refreshAtMs(token: TokenTimes, receivedAtMs: number): number {
    const servableUntilMs = token.expiresOnMs - this.minLifetimeMs;
    let refreshAtMs = Math.min(
      receivedAtMs + (token.expiresOnMs - receivedAtMs) / 2,
      token.refreshAfterMs ?? Number.POSITIVE_INFINITY,
    );
    if (refreshAtMs >= servableUntilMs) refreshAtMs = receivedAtMs + (servableUntilMs - receivedAtMs) / 2;
    return Math.floor(refreshAtMs);
  }
}
