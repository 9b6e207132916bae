import { TOKEN_EXCHANGE_RESOURCE } from './directory';
import type { AppRegistration } from './directory';
import { v2Issuer } from './entra';
import type { KeyVault } from './keyVault';
import { newClientSecret } from './tenant';
import { generateRsaKeyPair, issueCertificate } from './tls';

export type CredentialKind = 'secret' | 'certificate' | 'federated';

const DAY_MS = 24 * 3600 * 1000;

/**
 * How long a new app credential takes to work after it is added, by default: Entra commonly needs
 * 5–20 s. Azure fidelity: "new credentials take seconds to work" (docs/azure-fidelity.md).
 */
export const DEFAULT_ACTIVATION_DELAY_SECONDS = 15;

export interface RotateOptions {
  name?: string;
  expiresInDays?: number | null;
  revokePrevious?: boolean;
  enabled?: boolean;
  /** Seconds before Entra accepts the new credential; default the emulator's (15 s). */
  activationDelaySeconds?: number;
}

/**
 * The broker's client credential, kept in step in both places it lives: a Key Vault version and
 * the matching credential on the app registration (keyed by the Key Vault version).
 */
export class BrokerCredentials {
  constructor(
    private readonly options: {
      kind: CredentialKind;
      name: string;
      defaultExpiryDays: number | null;
      brokerApp: AppRegistration;
      keyVault: KeyVault;
      tenantId: string;
      managedIdentityPrincipalId: string;
      now: () => number;
      /** Default delay before a rotated credential works (seconds). */
      activationDelaySeconds: number;
      /** The audience the federated credential names (per cloud); default api://AzureADTokenExchange. */
      tokenExchangeAudience?: string;
    },
  ) {}

  /** Sets up the first credential of the configured kind. */
  initialise(clientSecret: string | undefined): void {
    const { kind, name, defaultExpiryDays, brokerApp } = this.options;
    // The first credential was added at deployment, long ago: it works at once.
    if (kind === 'secret')
      this.addSecret(name, clientSecret ?? newClientSecret(), this.expiryMs(defaultExpiryDays), true, 0);
    else if (kind === 'certificate') this.addCertificate(name, this.expiryMs(defaultExpiryDays), true, 0);
    else {
      brokerApp.federatedCredentials.push({
        name: 'broker-managed-identity',
        issuer: v2Issuer(this.options.tenantId),
        subject: this.options.managedIdentityPrincipalId,
        audiences: [this.options.tokenExchangeAudience ?? TOKEN_EXCHANGE_RESOURCE],
      });
    }
  }

  /** A new version in Key Vault, registered on the app. @throws Error for federated (nothing to rotate). */
  rotate(rotation: RotateOptions): { version: string } {
    const { kind, brokerApp } = this.options;
    const name = rotation.name ?? this.options.name;
    const expMs = this.expiryMs(
      rotation.expiresInDays === undefined ? this.options.defaultExpiryDays : rotation.expiresInDays,
    );
    const enabled = rotation.enabled ?? true;
    const delayMs = (rotation.activationDelaySeconds ?? this.options.activationDelaySeconds) * 1000;
    const previous = [...brokerApp.passwords, ...brokerApp.keyCredentials];
    let version: string;
    if (kind === 'secret') version = this.addSecret(name, newClientSecret(), expMs, enabled, delayMs);
    else if (kind === 'certificate') version = this.addCertificate(name, expMs, enabled, delayMs);
    else throw new Error('A federated credential has nothing to rotate.');
    if (rotation.revokePrevious) for (const item of previous) item.revoked = true;
    return { version };
  }

  /**
   * Drill for federated mode: what the app's federated credential trusts. A subject other than the
   * managed identity's principal ID makes Entra answer 401 AADSTS700213, another issuer 700211,
   * another audience 700212.
   */
  setFederatedCredential(change: { subject?: string; issuer?: string; audience?: string }): void {
    const credential = this.options.brokerApp.federatedCredentials[0];
    if (!credential) throw new Error('The broker app has no federated credential (credential kind is not federated).');
    if (change.subject !== undefined) credential.subject = change.subject;
    if (change.issuer !== undefined) credential.issuer = change.issuer;
    if (change.audience !== undefined) credential.audiences = [change.audience];
  }

  /** Entra refuses this version from now on (AADSTS7000215 for a secret, 700027 for a certificate). */
  revoke(version: string): void {
    for (const item of this.registered(version)) item.revoked = true;
  }

  /** Entra treats this version as expired (AADSTS7000222 for a secret, 700027 for a certificate). */
  expire(version: string): void {
    for (const item of this.registered(version)) item.forcedExpired = true;
  }

  private registered(version: string): { revoked: boolean; forcedExpired: boolean }[] {
    const { brokerApp } = this.options;
    const found = [...brokerApp.passwords, ...brokerApp.keyCredentials].filter((item) => item.keyId === version);
    if (found.length === 0) throw new Error(`No credential version ${version} is registered on the broker app.`);
    return found;
  }

  private expiryMs(days: number | null | undefined): number | undefined {
    return days === null || days === undefined ? undefined : this.options.now() + days * DAY_MS;
  }

  private addSecret(
    name: string,
    value: string,
    expMs: number | undefined,
    enabled: boolean,
    activationDelayMs: number,
  ): string {
    const version = this.options.keyVault.addSecretVersion(name, value, {
      enabled,
      ...(expMs !== undefined ? { expMs } : {}),
    }).version;
    this.options.brokerApp.passwords.push({
      keyId: version,
      value,
      endMs: expMs,
      revoked: false,
      forcedExpired: false,
      activeFromMs: this.options.now() + activationDelayMs,
    });
    return version;
  }

  private addCertificate(name: string, expMs: number | undefined, enabled: boolean, activationDelayMs: number): string {
    const now = this.options.now();
    const startMs = now - 3600 * 1000;
    // A certificate always has a notAfter; "no expiry" becomes ten years.
    const endMs = expMs ?? now + 3650 * DAY_MS;
    const certificate = issueCertificate({
      commonName: 'entra-token-broker',
      keys: generateRsaKeyPair(),
      notBefore: new Date(startMs),
      notAfter: new Date(endMs),
    });
    const version = this.options.keyVault.addCertificateVersion(name, certificate, enabled).version;
    this.options.brokerApp.keyCredentials.push({
      keyId: version,
      sha1: certificate.sha1,
      sha256: certificate.sha256,
      publicKey: certificate.keys.publicKey,
      startMs,
      endMs,
      revoked: false,
      forcedExpired: false,
      activeFromMs: now + activationDelayMs,
    });
    return version;
  }
}
