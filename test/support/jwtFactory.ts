/**
 * Crafts caller tokens for tests, good and bad, signed by hand with node:crypto so that every
 * header and claim (a string `exp`, `alg: none`, an embedded `jwk`) can be set, which a JWT library
 * would refuse to produce.
 */
import { createHmac, generateKeyPairSync, type KeyObject, randomUUID, sign } from 'node:crypto';
import type { JWK } from 'jose';

export interface TestSigningKey {
  readonly kid: string;
  readonly privateKey: KeyObject;
  readonly publicKey: KeyObject;
  /** The public JWK as a key set publishes it (kid, use, alg). */
  readonly publicJwk: JWK;
}

/** A fresh RSA-2048 key pair (about 50–100 ms). */
export function createSigningKey(kid: string = randomUUID()): TestSigningKey {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const jwk = publicKey.export({ format: 'jwk' }) as JWK;
  return { kid, privateKey, publicKey, publicJwk: { ...jwk, kid, use: 'sig', alg: 'RS256' } };
}

export function base64url(input: string | Buffer): string {
  return Buffer.from(input).toString('base64url');
}

export function encodeSegments(header: Record<string, unknown>, payload: Record<string, unknown> | string): string {
  const body = typeof payload === 'string' ? payload : JSON.stringify(payload);
  return `${base64url(JSON.stringify(header))}.${base64url(body)}`;
}

/** RS256-signs exactly the header and payload given. */
export function signRs256(
  header: Record<string, unknown>,
  payload: Record<string, unknown> | string,
  privateKey: KeyObject,
): string {
  const input = encodeSegments(header, payload);
  return `${input}.${sign('sha256', Buffer.from(input), privateKey).toString('base64url')}`;
}

export interface JwtFactoryOptions {
  readonly tenantId: string;
  readonly audience: string;
  readonly key: TestSigningKey;
  /** Seconds since the epoch used for iat/nbf/exp. */
  readonly nowSeconds: () => number;
  readonly appId?: string;
}

export interface SignOptions {
  /** Claims to remove from the defaults. */
  readonly omit?: readonly string[];
  /** Extra or replaced header parameters. */
  readonly header?: Record<string, unknown>;
  /** Another signing key (its kid goes in the header unless `header.kid` says otherwise). */
  readonly key?: TestSigningKey;
}

export const DEFAULT_CALLER_APP_ID = '3f9a7c2e-1b4d-4e8f-9a6b-5c7d8e9f0a1b';

/** Default claims: a v2 app-only token with the Token.Request role, valid for an hour. */
export class JwtFactory {
  constructor(private readonly options: JwtFactoryOptions) {}

  get key(): TestSigningKey {
    return this.options.key;
  }

  claims(overrides: Record<string, unknown> = {}): Record<string, unknown> {
    const now = this.options.nowSeconds();
    const tid = this.options.tenantId;
    return {
      aud: this.options.audience,
      iss: `https://login.microsoftonline.com/${tid}/v2.0`,
      iat: now - 60,
      nbf: now - 60,
      exp: now + 3600,
      tid,
      azp: this.options.appId ?? DEFAULT_CALLER_APP_ID,
      azpacr: '1',
      oid: '0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d',
      sub: '0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d',
      idtyp: 'app',
      roles: ['Token.Request'],
      ver: '2.0',
      ...overrides,
    };
  }

  /** A v1-style app-only token (`appid`, sts.windows.net issuer). */
  v1Claims(overrides: Record<string, unknown> = {}): Record<string, unknown> {
    const base = this.claims({ iss: `https://sts.windows.net/${this.options.tenantId}/`, ver: '1.0' });
    delete base.azp;
    delete base.azpacr;
    return { ...base, appid: this.options.appId ?? DEFAULT_CALLER_APP_ID, appidacr: '1', ...overrides };
  }

  sign(claims: Record<string, unknown> = this.claims(), options: SignOptions = {}): string {
    const key = options.key ?? this.options.key;
    const payload = { ...claims };
    for (const name of options.omit ?? []) delete payload[name];
    return signRs256({ typ: 'JWT', alg: 'RS256', kid: key.kid, ...options.header }, payload, key.privateKey);
  }

  /** `alg: none` with an empty signature segment. */
  unsigned(claims: Record<string, unknown> = this.claims()): string {
    return `${encodeSegments({ typ: 'JWT', alg: 'none' }, claims)}.`;
  }

  /** The classic key-confusion attack: HS256 with the RSA public key (PEM) as the HMAC secret. */
  hs256WithPublicKey(claims: Record<string, unknown> = this.claims()): string {
    const input = encodeSegments({ typ: 'JWT', alg: 'HS256', kid: this.options.key.kid }, claims);
    const pem = this.options.key.publicKey.export({ type: 'spki', format: 'pem' });
    return `${input}.${createHmac('sha256', pem).update(input).digest('base64url')}`;
  }
}

/** The token with its payload replaced but the original signature kept. */
export function tamperPayload(token: string, claims: Record<string, unknown>): string {
  const [header, , signature] = token.split('.');
  return `${header}.${base64url(JSON.stringify(claims))}.${signature}`;
}

/** The token with the last `chars` characters of its signature cut off. */
export function truncateSignature(token: string, chars = 10): string {
  return token.slice(0, token.length - chars);
}
