import type { KeyObject } from 'node:crypto';
import { createLocalJWKSet, exportJWK, SignJWT } from 'jose';
import type { JSONWebKeySet, JWK } from 'jose';
import { generateRsaKeyPair, issueCertificate } from './tls';

interface SigningKey {
  kid: string;
  privateKey: KeyObject;
  jwk: JWK;
}

/**
 * The tenant's token-signing keys, published as Entra does: `kid` = `x5t` = base64url SHA-1 of a
 * self-signed certificate whose chain is in `x5c`. Old keys stay published after a roll.
 */
export class SigningKeys {
  private readonly keys: SigningKey[] = [];
  private current!: SigningKey;

  private constructor(private readonly nowMs: () => number) {}

  static async create(nowMs: () => number): Promise<SigningKeys> {
    const keys = new SigningKeys(nowMs);
    await keys.roll();
    return keys;
  }

  /** Publishes a new key and signs with it from now on. */
  async roll(): Promise<{ kid: string }> {
    const pair = generateRsaKeyPair();
    const now = Date.now();
    const cert = issueCertificate({
      commonName: 'accounts.accesscontrol.windows.net',
      keys: pair,
      notBefore: new Date(now - 24 * 3600 * 1000),
      notAfter: new Date(now + 5 * 365 * 24 * 3600 * 1000),
    });
    const kid = cert.sha1.toString('base64url');
    const publicJwk = await exportJWK(pair.publicKey);
    const jwk: JWK = {
      kty: 'RSA',
      use: 'sig',
      alg: 'RS256',
      kid,
      x5t: kid,
      n: publicJwk.n,
      e: publicJwk.e,
      x5c: [cert.der.toString('base64')],
    };
    const key = { kid, privateKey: pair.privateKey, jwk };
    this.keys.push(key);
    this.current = key;
    return { kid };
  }

  /** The JWKS document; `issuer` is filled per tenant like Entra's v2 keys endpoint. */
  jwks(issuer: string): JSONWebKeySet {
    return { keys: this.keys.map((key) => ({ ...key.jwk, issuer }) as JWK) };
  }

  /** A jose key resolver over every published key (for the emulator's own checks). */
  keyResolver(): ReturnType<typeof createLocalJWKSet> {
    return createLocalJWKSet({ keys: this.keys.map((key) => ({ ...key.jwk })) });
  }

  async sign(claims: Record<string, unknown>, options: { kid?: string; header?: Record<string, unknown> } = {}) {
    const key = options.kid ? this.keys.find((candidate) => candidate.kid === options.kid) : this.current;
    if (!key) throw new Error(`No signing key with kid ${options.kid}`);
    return new SignJWT(claims)
      .setProtectedHeader({ typ: 'JWT', alg: 'RS256', kid: key.kid, x5t: key.kid, ...options.header })
      .sign(key.privateKey);
  }

  nowSeconds(): number {
    return Math.floor(this.nowMs() / 1000);
  }
}
