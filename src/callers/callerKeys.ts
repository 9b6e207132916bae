import type * as nodeCrypto from 'node:crypto';
import type { FlattenedJWSInput, JSONWebKeySet, JWSHeaderParameters } from 'jose';
import type { Clock } from '../platform/clock';
import { BrokerError } from '../contract/errors';
import type * as JoseLib from './joseLib';
import { jose } from './lazyJose';
import { describeError, type Logger } from '../platform/logger';

type KeyGetter = (header: JWSHeaderParameters, token: FlattenedJWSInput) => Promise<nodeCrypto.webcrypto.CryptoKey>;
type RemoteKeySet = ReturnType<typeof JoseLib.createRemoteJWKSet>;
type LocalKeySet = ReturnType<typeof JoseLib.createLocalJWKSet>;

export interface TenantKeysOptions {
  url: URL;
  fetch: typeof fetch | undefined;
  clock: Clock;
  logger: Logger;
  cooldownMs: number;
  maxAgeMs: number;
  timeoutMs: number;
  retryAfterFailureMs: number;
}

/**
 * The tenant's signing keys: jose's remote key set (single-flight fetches, cooldown on unknown
 * `kid`), plus what jose does not do: once keys were fetched, a stale set keeps verifying while it
 * is refreshed in the background, and when a refresh fails the last fetched set stays in use;
 * after a failure no fetch is tried for a short while, so a hanging keys endpoint
 * does not add its timeout to callers' requests.
 */
export class TenantKeys {
  private remoteKeySet: RemoteKeySet | undefined;
  private failedAtMs: number | undefined;
  /** JSON of the key set `staleKeys` was built from (jose hands out copies, so compare contents). */
  private staleSource: string | undefined;
  private staleKeys: LocalKeySet | undefined;

  constructor(private readonly options: TenantKeysOptions) {}

  /**
   * Created on first use (the start-up warm-up or the first caller), not with the broker: jose
   * itself is loaded then (lazyJose.ts), and it reads the global `fetch` when the set is created,
   * which loads Node's built-in undici — about ten milliseconds of the app's load, before the host
   * can index the functions.
   */
  private get remote(): RemoteKeySet {
    if (this.remoteKeySet === undefined) {
      const { createRemoteJWKSet, customFetch } = jose();
      this.remoteKeySet = createRemoteJWKSet(this.options.url, {
        cooldownDuration: this.options.cooldownMs,
        cacheMaxAge: this.options.maxAgeMs,
        timeoutDuration: this.options.timeoutMs,
        ...(this.options.fetch ? { [customFetch]: this.options.fetch } : {}),
      });
    }
    return this.remoteKeySet;
  }

  readonly getKey: KeyGetter = async (header, token) => {
    const known = this.remote.jwks();
    if (known !== undefined && !this.remote.fresh) {
      // Stale while revalidate: with keys in hand, no caller waits on the keys endpoint (which may
      // hang for the whole timeout); the refresh runs in the background.
      this.refreshInBackground();
      try {
        return await this.stale(known)(header, token);
      } catch (error) {
        // An unknown kid may be a new key: go on to the remote set (which waits for the refresh).
        if (!(error instanceof jose().errors.JWKSNoMatchingKey)) throw error;
      }
    }
    if (!this.backingOff()) {
      try {
        const key = await this.remote(header, token);
        this.failedAtMs = undefined;
        return key;
      } catch (error) {
        if (!isKeySetUnavailable(error)) throw error;
        this.fetchFailed(error);
      }
    }
    const cached = this.remote.jwks();
    if (cached === undefined) {
      throw new BrokerError('caller_keys_unavailable', 'The signing keys of the caller tenant cannot be fetched.', {
        retryAfterSeconds: Math.max(1, Math.ceil(this.options.retryAfterFailureMs / 1000)),
      });
    }
    return this.stale(cached)(header, token);
  };

  async warmUp(): Promise<boolean> {
    if (this.remote.fresh) return true;
    if (!this.backingOff()) {
      try {
        await this.remote.reload();
        this.failedAtMs = undefined;
      } catch (error) {
        this.fetchFailed(error);
      }
    }
    return this.remote.jwks() !== undefined;
  }

  private backingOff(): boolean {
    return (
      this.failedAtMs !== undefined && this.options.clock.now() < this.failedAtMs + this.options.retryAfterFailureMs
    );
  }

  private refreshInBackground(): void {
    if (this.remote.reloading || this.backingOff()) return;
    this.remote.reload().then(
      () => {
        this.failedAtMs = undefined;
      },
      (error: unknown) => this.fetchFailed(error),
    );
  }

  private fetchFailed(error: unknown): void {
    this.failedAtMs = this.options.clock.now();
    this.options.logger.warn('CallerKeysFetchFailed', {
      jwksUri: this.options.url.href,
      error: describeError(error),
      keysCached: this.remote.jwks() !== undefined,
    });
  }

  private stale(known: JSONWebKeySet): LocalKeySet {
    const source = JSON.stringify(known);
    if (this.staleKeys === undefined || this.staleSource !== source) {
      this.staleSource = source;
      this.staleKeys = jose().createLocalJWKSet(known);
    }
    return this.staleKeys;
  }
}

/** A failure of the key set fetch itself (network, timeout, non-200, not a key set), not of the token. */
function isKeySetUnavailable(error: unknown): boolean {
  const joseErrors = jose().errors;
  if (!(error instanceof joseErrors.JOSEError)) return true;
  return (
    error instanceof joseErrors.JWKSTimeout ||
    error instanceof joseErrors.JWKSInvalid ||
    error.code === joseErrors.JOSEError.code
  );
}
