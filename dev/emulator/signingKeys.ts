import type { KeyObject } from 'node:crypto';
import { createLocalJWKSet, exportJWK, SignJWT } from 'jose';
import type { JSONWebKeySet, JWK } from 'jose';
import { generateRsaKeyPair, issueCertificate } from './tls';

interface SigningKey {
  kid: string;
  privateKey: KeyObject;
  jwk: JWK;
}

/** The issuer Entra writes on its keys: a template, the tenant filled in by the client. */
export const KEY_ISSUER_TEMPLATE = 'https://login.microsoftonline.com/{tenantid}/v2.0';
/** The consumer (Microsoft account) tenant, whose keys share Entra's published set. */
export const CONSUMER_TENANT_ID = '9188040d-6c67-4c5b-b112-36a304b66dad';

/**
 * The tenant's token-signing keys, published as Entra does (docs/azure-fidelity.md, "JWKS like
 * Entra's"): `kid` = `x5t` = base64url SHA-1 of a self-signed certificate whose chain is in `x5c`;
 * no `alg`; an `issuer` on each key; keys of another issuer in the same set; a new key published
 * before it signs anything (`publishNext`, then `roll`) and old keys kept after a roll.
 */
export class SigningKeys {
  private readonly keys: SigningKey[] = [];
  private current!: SigningKey;
  private next: SigningKey | undefined;
  /** Keys of the consumer issuer: published, never used for this tenant's tokens. */
  private readonly foreign: SigningKey[] = [];

  private constructor(private readonly nowMs: () => number) {}

  static async create(nowMs: () => number): Promise<SigningKeys> {
    const keys = new SigningKeys(nowMs);
    await keys.roll();
    keys.foreign.push(await SigningKeys.newKey(`https://login.microsoftonline.com/${CONSUMER_TENANT_ID}/v2.0`));
    return keys;
  }

  /** Publishes a new key that signs nothing yet; the next `roll` switches to it. */
  async publishNext(): Promise<{ kid: string }> {
    if (!this.next) {
      this.next = await SigningKeys.newKey(KEY_ISSUER_TEMPLATE);
      this.keys.push(this.next);
    }
    return { kid: this.next.kid };
  }

  /** Signs with the key published by `publishNext` from now on (or a new one, published now). */
  async roll(): Promise<{ kid: string }> {
    const key = this.next ?? (await SigningKeys.newKey(KEY_ISSUER_TEMPLATE));
    if (!this.next) this.keys.push(key);
    this.next = undefined;
    this.current = key;
    return { kid: key.kid };
  }

  private static async newKey(issuer: string): Promise<SigningKey> {
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
    // No `alg`: Entra's keys do not carry one (clients pick keys by `kid` and `kty`).
    const jwk = {
      kty: 'RSA',
      use: 'sig',
      kid,
      x5t: kid,
      n: publicJwk.n,
      e: publicJwk.e,
      x5c: [cert.der.toString('base64')],
      issuer,
    } as JWK;
    return { kid, privateKey: pair.privateKey, jwk };
  }

  /**
   * The JWKS document: the tenant's keys with the templated issuer on the v2 endpoint (none on the
   * v1 endpoint), then the consumer issuer's keys.
   */
  jwks(v2: boolean): JSONWebKeySet {
    const strip = (jwk: JWK): JWK => {
      if (v2) return { ...jwk };
      const { issuer: _issuer, ...rest } = jwk as JWK & { issuer?: string };
      return rest;
    };
    return { keys: [...this.keys, ...this.foreign].map((key) => strip(key.jwk)) };
  }

  /** Signs with a key of the consumer issuer (for tests that a key of another issuer is refused). */
  foreignKid(): string {
    return this.foreign[0]!.kid;
  }

  /** A jose key resolver over every published key (for the emulator's own checks). */
  keyResolver(): ReturnType<typeof createLocalJWKSet> {
    return createLocalJWKSet({ keys: this.keys.map((key) => ({ ...key.jwk })) });
  }

  async sign(claims: Record<string, unknown>, options: { kid?: string; header?: Record<string, unknown> } = {}) {
    const all = [...this.keys, ...this.foreign];
    const key = options.kid ? all.find((candidate) => candidate.kid === options.kid) : this.current;
    if (!key) throw new Error(`No signing key with kid ${options.kid}`);
    return new SignJWT(claims)
      .setProtectedHeader({ typ: 'JWT', alg: 'RS256', kid: key.kid, x5t: key.kid, ...options.header })
      .sign(key.privateKey);
  }

  nowSeconds(): number {
    return Math.floor(this.nowMs() / 1000);
  }
}
