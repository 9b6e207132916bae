import * as nodeCrypto from 'node:crypto';
import type { JWTPayload } from 'jose';
import { type Clock, systemClock } from '../platform/clock';
import { type BrokerConfig, callerPolicyKey } from '../contract/config';
import { BrokerError } from '../contract/errors';
import { jose } from './lazyJose';
import { describeError, type Logger } from '../platform/logger';
import { SingleFlight } from '../platform/singleFlight';
import { VerifiedTokenCache } from './verifiedTokenCache';
import { TenantKeys } from './callerKeys';
import { CallerAudiences } from './callerAudiences';

/** Who is calling, as proven by a verified app-only Entra token. Safe to log. */
export interface CallerIdentity {
  /** `tid`, lower case. */
  readonly tenantId: string;
  /** `azp` (v2) or `appid` (v1), lower case. */
  readonly appId: string;
  /**
   * The caller's key in CALLER_POLICY and the rate limiter (`callerPolicyKey`): the app ID with one
   * caller tenant, `<tenantId>/<appId>` with several.
   */
  readonly policyKey: string;
  /** `oid` of the caller's service principal, when present. */
  readonly objectId: string | undefined;
  readonly roles: readonly string[];
  /** First 12 hex digits of the token's SHA-256: lets logs correlate requests without the token. */
  readonly tokenHash: string;
}

export interface CallerAuthenticatorOptions {
  readonly config: BrokerConfig;
  readonly clock?: Clock;
  readonly logger: Logger;
  /** For the key set only; tests pass one that trusts the emulator's CA. Default: global fetch. */
  readonly fetch?: typeof fetch;
  /** Default `${authorityHost}/${tenantId}/discovery/v2.0/keys`. */
  readonly jwksUri?: string;
  /** Least time between two key set fetches caused by an unknown `kid`. Default 30 s. */
  readonly cooldownMs?: number;
  /** Leeway for `exp` and `nbf`. Default 60 s. */
  readonly clockToleranceSeconds?: number;
  /** Key set age after which jose refetches it. Default 10 minutes. */
  readonly keysMaxAgeMs?: number;
  /** Timeout of one key set fetch. Default 5 s. */
  readonly keysTimeoutMs?: number;
  /** After a failed key set fetch, no new fetch is tried for this long (stale keys or 503 meanwhile). Default 5 s. */
  readonly keysRetryAfterFailureMs?: number;
  /** Verified-token cache bounds. Defaults 10 000 entries, 5 minutes. */
  readonly verifiedTokenCacheEntries?: number;
  readonly verifiedTokenMaxAgeMs?: number;
}

/** Longest caller token accepted; checked before any decoding. */
export const MAX_CALLER_TOKEN_LENGTH = 8192;
export const DEFAULT_CLOCK_TOLERANCE_SECONDS = 60;
export const DEFAULT_KEYS_COOLDOWN_MS = 30_000;

const PUBLIC_CLOUD_V2_HOST = 'https://login.microsoftonline.com';
const V1_ISSUER_HOST = 'https://sts.windows.net';
// Three base64url segments; the signature may not be empty (that would be `alg: none`).
const COMPACT_JWS = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;
const BEARER = /^bearer$/i;

interface VerifiedCaller {
  readonly identity: CallerIdentity;
  /** `idtyp` is `app`; or, without `idtyp`, there is no `scp` and `oid` equals `sub`. */
  readonly appOnly: boolean;
}

/**
 * Verifies caller tokens (docs/openapi.yaml) with jose: RS256 only, the tenant's remote
 * key set (fetched once per process, refetched on an unknown `kid` at most once per cooldown), the
 * exact v1/v2 issuers of the allowed tenants with a matching `tid`, the accepted audiences, and
 * app-only tokens carrying the required role. Header parameters `jku`, `x5u` and `jwk` are never
 * followed: keys come only from the configured key set.
 */
export class CallerAuthenticator {
  private readonly clock: Clock;
  private readonly logger: Logger;
  private readonly issuerTenants: ReadonlyMap<string, string>;
  private readonly audiences: CallerAudiences;
  private readonly config: BrokerConfig;
  private readonly requiredRole: string | undefined;
  private readonly clockToleranceSeconds: number;
  private readonly keys: TenantKeys;
  private readonly verified: VerifiedTokenCache<VerifiedCaller>;
  /**
   * Verifications running, by token digest: on a cold instance a busy caller's first requests all
   * arrive before the first verification is cached, and one RSA verification serves them all.
   */
  private readonly verifying = new SingleFlight<string, VerifiedCaller>();

  constructor(options: CallerAuthenticatorOptions) {
    const { config } = options;
    this.clock = options.clock ?? systemClock;
    this.logger = options.logger.child('CallerAuth');
    this.issuerTenants = allowedIssuers(config);
    this.config = config;
    this.audiences = new CallerAudiences(config);
    this.requiredRole = config.callerRequiredRole;
    this.clockToleranceSeconds = options.clockToleranceSeconds ?? DEFAULT_CLOCK_TOLERANCE_SECONDS;
    if (!(this.clockToleranceSeconds >= 0 && this.clockToleranceSeconds <= 300)) {
      throw new TypeError('clockToleranceSeconds must be from 0 to 300');
    }
    if (this.audiences.all.length === 0 || this.issuerTenants.size === 0) {
      // parseConfig refuses these already; a hand-built config must not silently accept everything.
      throw new TypeError('CallerAuthenticator needs at least one audience and one tenant');
    }
    this.keys = new TenantKeys({
      url: new URL(options.jwksUri ?? `${config.authorityHost}/${config.tenantId}/discovery/v2.0/keys`),
      fetch: options.fetch,
      clock: this.clock,
      logger: this.logger,
      cooldownMs: options.cooldownMs ?? DEFAULT_KEYS_COOLDOWN_MS,
      maxAgeMs: options.keysMaxAgeMs ?? 10 * 60_000,
      timeoutMs: options.keysTimeoutMs ?? 5_000,
      retryAfterFailureMs: options.keysRetryAfterFailureMs ?? 5_000,
    });
    this.verified = new VerifiedTokenCache<VerifiedCaller>({
      clock: this.clock,
      maxEntries: options.verifiedTokenCacheEntries,
      maxAgeMs: options.verifiedTokenMaxAgeMs,
    });
  }

  /**
   * Verifies the `Authorization` header value and returns the caller.
   * @throws BrokerError `caller_token_missing` (no bearer token), `caller_token_invalid` (malformed,
   * oversized, bad signature or algorithm, unknown key, expired, not yet valid, wrong issuer, tenant
   * or audience), `caller_forbidden` (valid but not an app-only token with the required role and an
   * app ID), `caller_keys_unavailable` (the key set could not be fetched and none is cached).
   */
  async authenticate(authorization: string | null | undefined): Promise<CallerIdentity> {
    const token = extractBearerToken(authorization);
    const digest = sha256Hex(token);
    let caller = this.verified.get(digest);
    if (caller === undefined) {
      // Only a token that is not in the cache needs the form check: one in it passed it when it was
      // verified (same digest, same string), and the regex over a kilobyte of token costs as much
      // as the cache lookup.
      assertCompactJws(token);
      caller = await this.verifying.run(digest, () => this.verify(token, digest));
    }
    this.authorize(caller);
    return caller.identity;
  }

  /**
   * Fetches the tenant's signing keys ahead of the first caller (start-up, warm-up timer), so that
   * a cold instance does not make its first caller wait for them. Never throws.
   * @returns whether keys are available now.
   */
  async warmUp(): Promise<boolean> {
    return this.keys.warmUp();
  }

  private async verify(token: string, digest: string): Promise<VerifiedCaller> {
    let payload: JWTPayload;
    try {
      ({ payload } = await jose().jwtVerify(token, this.keys.getKey, {
        algorithms: ['RS256'],
        issuer: [...this.issuerTenants.keys()],
        audience: [...this.audiences.all],
        clockTolerance: this.clockToleranceSeconds,
        currentDate: new Date(this.clock.now()),
        requiredClaims: ['exp', 'iss', 'aud', 'tid'],
      }));
    } catch (error) {
      throw this.verificationError(error);
    }

    const issuerTenant = this.issuerTenants.get(payload.iss as string);
    const tenantId = typeof payload.tid === 'string' ? payload.tid.toLowerCase() : undefined;
    if (tenantId === undefined || tenantId !== issuerTenant) {
      throw new BrokerError('caller_token_invalid', 'The caller token was not issued by an accepted tenant.');
    }
    if (!this.audiences.acceptsFrom(tenantId, payload.aud)) {
      throw new BrokerError(
        'caller_token_invalid',
        "A caller token from another tenant must name the broker API's app ID as audience.",
      );
    }
    const appIdClaim = typeof payload.azp === 'string' ? payload.azp : payload.appid;
    const appId = typeof appIdClaim === 'string' ? appIdClaim.toLowerCase() : '';
    const roles = Array.isArray(payload.roles) ? payload.roles.filter((r): r is string => typeof r === 'string') : [];
    const identity: CallerIdentity = Object.freeze({
      tenantId,
      appId,
      policyKey: callerPolicyKey(this.config, tenantId, appId),
      objectId: typeof payload.oid === 'string' ? payload.oid : undefined,
      roles: Object.freeze(roles),
      tokenHash: digest.slice(0, 12),
    });
    const appOnly = isAppOnly(payload);
    const caller: VerifiedCaller = { identity, appOnly };
    // `exp` is required and numeric (jwtVerify checked both); never remember a token past it.
    this.verified.set(digest, caller, (payload.exp as number) * 1000);
    return caller;
  }

  private authorize(caller: VerifiedCaller): void {
    if (!caller.appOnly) {
      throw new BrokerError('caller_forbidden', 'Only app-only tokens are accepted; this one was issued for a user.');
    }
    if (caller.identity.appId === '') {
      throw new BrokerError('caller_forbidden', 'The caller token names no calling application (azp or appid).');
    }
    if (this.requiredRole !== undefined && !caller.identity.roles.includes(this.requiredRole)) {
      throw new BrokerError('caller_forbidden', 'The caller token lacks the app role the broker requires.');
    }
  }

  private verificationError(error: unknown): BrokerError {
    if (error instanceof BrokerError) return error;
    const joseErrors = jose().errors;
    if (error instanceof joseErrors.JWTExpired) {
      return new BrokerError('caller_token_invalid', 'The caller token has expired.', { cause: error });
    }
    if (error instanceof joseErrors.JWTClaimValidationFailed) {
      const description = CLAIM_DESCRIPTIONS[error.claim] ?? 'The caller token has a missing or invalid claim.';
      return new BrokerError('caller_token_invalid', description, { cause: error });
    }
    if (error instanceof joseErrors.JWKSNoMatchingKey) {
      return new BrokerError('caller_token_invalid', 'The caller token was signed with an unknown key.', {
        cause: error,
      });
    }
    if (error instanceof joseErrors.JOSEAlgNotAllowed) {
      return new BrokerError('caller_token_invalid', 'The caller token is not signed with RS256.', { cause: error });
    }
    if (error instanceof joseErrors.JWSSignatureVerificationFailed) {
      return new BrokerError('caller_token_invalid', 'The caller token signature is not valid.', { cause: error });
    }
    if (!(error instanceof joseErrors.JOSEError)) {
      // jose should only throw its own errors for a bad token; anything else is logged for a look.
      this.logger.warn('CallerTokenVerificationError', { error: describeError(error) });
    }
    return new BrokerError('caller_token_invalid', 'The caller token is malformed.', { cause: error });
  }
}

/**
 * Microsoft's rule for an app-only token (docs/azure-fidelity.md, "idtyp is optional"): `idtyp`
 * is sent only when the API app asks for it as an optional claim; without it, an app-only token
 * has no `scp` and its `oid` (the caller's service principal) equals its `sub`. A user token with
 * app roles has roles too, so roles alone prove nothing.
 */
function isAppOnly(payload: JWTPayload): boolean {
  if (payload.scp !== undefined) return false;
  if (payload.idtyp !== undefined) return payload.idtyp === 'app';
  return typeof payload.oid === 'string' && payload.oid !== '' && payload.oid === payload.sub;
}

const CLAIM_DESCRIPTIONS: Readonly<Record<string, string>> = {
  iss: 'The caller token was not issued by an accepted tenant.',
  aud: 'The caller token was issued for another audience.',
  nbf: 'The caller token is not valid yet.',
  exp: 'The caller token has no valid expiry.',
  tid: 'The caller token names no tenant.',
};

/**
 * The bearer token of an `Authorization` value (scheme case-insensitive).
 * @throws BrokerError `caller_token_missing` when there is no bearer token, `caller_token_invalid`
 * when it is oversized (its form is checked by `assertCompactJws` before verification).
 */
function extractBearerToken(authorization: string | null | undefined): string {
  const value = (authorization ?? '').trim();
  const space = value.search(/[ \t]/);
  const scheme = space < 0 ? value : value.slice(0, space);
  const token = space < 0 ? '' : value.slice(space + 1).trim();
  if (!BEARER.test(scheme) || token === '') {
    throw new BrokerError('caller_token_missing', 'Send the caller token in the Authorization header, scheme Bearer.');
  }
  if (token.length > MAX_CALLER_TOKEN_LENGTH) {
    throw new BrokerError('caller_token_invalid', 'The caller token is too large.');
  }
  return token;
}

/**
 * @throws BrokerError `caller_token_invalid` when `token` is not a compact JWS (three base64url
 * segments, a non-empty signature).
 */
function assertCompactJws(token: string): void {
  if (!COMPACT_JWS.test(token)) {
    throw new BrokerError('caller_token_invalid', 'The caller token is malformed.');
  }
}

/**
 * Hex SHA-256 of a caller token, computed on every request for the verified-token cache.
 * `crypto.hash` (Node 20.12+, 22) is the one-shot form, a third cheaper than a Hash object;
 * createHash is the fallback for an older Node 20.
 */
const sha256Hex: (text: string) => string =
  typeof nodeCrypto.hash === 'function'
    ? (text) => nodeCrypto.hash('sha256', text, 'hex')
    : (text) => nodeCrypto.createHash('sha256').update(text).digest('hex');

/** Exact issuer → tenant for every accepted tenant (v1 and v2). */
function allowedIssuers(config: BrokerConfig): Map<string, string> {
  const issuers = new Map<string, string>();
  for (const tenant of config.callerTenants) {
    const tid = tenant.toLowerCase();
    issuers.set(`${V1_ISSUER_HOST}/${tid}/`, tid);
    issuers.set(`${PUBLIC_CLOUD_V2_HOST}/${tid}/v2.0`, tid);
    // Sovereign clouds and the local emulator issue v2 tokens under their own authority host.
    issuers.set(`${config.authorityHost}/${tid}/v2.0`, tid);
  }
  return issuers;
}
