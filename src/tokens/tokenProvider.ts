/** A token as the broker serves it to a caller. */
export interface ServedToken {
  readonly accessToken: string;
  /** When the token expires, in ms since the epoch, computed from receive time + `expires_in`. */
  readonly expiresOnMs: number;
  /** When the broker itself will refresh it (half-life or Entra's `refresh_in`, whichever is first). */
  readonly refreshAtMs: number;
  /** The scope as configured in TOKEN_SCOPES (canonical spelling). */
  readonly scope: string;
  /** True when served from the cache without waiting for Entra. */
  readonly cacheHit: boolean;
}

export type ProviderHealth = 'ok' | 'unhealthy';

/**
 * What the HTTP front door needs from the token engine. Implemented by `TokenEngine`.
 */
export interface TokenProvider {
  /**
   * A token for `scope` (one of `config.tokenScopes`, canonical spelling) with at least
   * TOKEN_MIN_LIFETIME_SECONDS left. Never waits for a refresh while a good token is cached.
   * @throws BrokerError with a dependency code (entra_*, keyvault_*, credential_invalid,
   * token_lifetime_too_short) when no such token can be had now; `retryAfterSeconds` is set.
   */
  getToken(scope: string): Promise<ServedToken>;
  /**
   * Cheap and synchronous, never calls upstream: `unhealthy` when some configured scope has no
   * servable token and its last acquisition failed (a caller would get 503 right now).
   */
  health(): ProviderHealth;
}
