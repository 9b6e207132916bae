import type { TokenCredential } from '@azure/identity';
import type { CertificateClient, CertificateProperties } from '@azure/keyvault-certificates';
import type { KeyVaultSecret, SecretClient, SecretProperties } from '@azure/keyvault-secrets';
import { isAzureVaultUrl } from '../contract/clouds';
import { normalizeCertificateSecret } from './certificatePem';
import { type Clock, systemClock } from '../platform/clock';
import type { BrokerConfig } from '../contract/config';
import type { ClientCredential, CredentialProperties, CredentialSource } from './credentialTypes';
import { withDeadline } from '../platform/deadline';
import { createFederatedCredentialSource } from './federatedCredentialSource';
import { BrokerError } from '../contract/errors';
import { classifyKeyVaultError } from './keyVaultErrors';
import { azureSdk, certificateSdk } from '../platform/lazyAzureSdk';
import type { Logger } from '../platform/logger';
import type { SecretRegistry } from '../platform/redact';

export interface KeyVaultCredentialSourceOptions {
  config: BrokerConfig;
  /** Identity used to read Key Vault (unused for `federated`). */
  managedIdentity: TokenCredential;
  logger: Logger;
  /** Every loaded secret value / private key is registered here so the logger scrubs it. */
  secrets: SecretRegistry;
  /** Extra CA to trust for Key Vault (the emulator's); production passes nothing. */
  tlsCaPem?: string;
  clock?: Clock;
  /** Deadline of each Key Vault operation, managed identity token included. Default 5000 ms. */
  timeoutMs?: number;
}

export const DEFAULT_KEY_VAULT_TIMEOUT_MS = 5000;

type AnyProperties = SecretProperties | CertificateProperties;
/** Options both Key Vault clients accept (their service versions differ, so neither type fits the other). */
type KeyVaultClientOptions = NonNullable<ConstructorParameters<typeof SecretClient>[2]> &
  NonNullable<ConstructorParameters<typeof CertificateClient>[2]>;

/**
 * The broker's client credential, read from Key Vault with the managed identity:
 * - `secret`: a Key Vault secret;
 * - `certificate`: a Key Vault certificate, read through its secret (PEM or PKCS#12, normalised to
 *   PEM); its expiry is the certificate's `notAfter`;
 * - `federated`: nothing stored, nothing read (the managed identity itself is the credential).
 *
 * Every read has its own deadline (`keyvault_timeout`; the managed identity call inside the SDK may
 * hang too), concurrent reads of the same thing share one request, and a failed read is not cached.
 * Values are registered with the SecretRegistry and never logged.
 */
export function createKeyVaultCredentialSource(options: KeyVaultCredentialSourceOptions): CredentialSource {
  if (options.config.credentialKind === 'federated') return createFederatedCredentialSource(options.config);
  return new KeyVaultCredentialSource(options);
}

class KeyVaultCredentialSource implements CredentialSource {
  private readonly config: BrokerConfig;
  private readonly kind: 'secret' | 'certificate';
  private readonly secrets: SecretRegistry;
  private readonly clock: Clock;
  private readonly timeoutMs: number;
  private readonly log: Logger;
  private readonly clientArgs: [string, TokenCredential, KeyVaultClientOptions];
  private secretClientInstance: SecretClient | undefined;
  private certificateClientInstance: CertificateClient | undefined;

  private inUse: ClientCredential | undefined;
  private currentLoad: Promise<ClientCredential> | undefined;
  private readonly loads = new Map<string, Promise<ClientCredential>>();
  private propertiesRead: Promise<CredentialProperties> | undefined;

  constructor(options: KeyVaultCredentialSourceOptions) {
    this.config = options.config;
    this.kind = options.config.credentialKind === 'certificate' ? 'certificate' : 'secret';
    this.secrets = options.secrets;
    this.clock = options.clock ?? systemClock;
    this.timeoutMs = options.timeoutMs ?? DEFAULT_KEY_VAULT_TIMEOUT_MS;
    this.log = options.logger.child('CredentialSource');
    const clientOptions: KeyVaultClientOptions = {
      // The check that the challenge's resource matches the vault's host protects the managed
      // identity's token on real vaults; a non-Azure host (the emulator) can never pass it.
      disableChallengeResourceVerification: !isAzureVaultUrl(options.config.keyVaultUrl),
      // No SDK retries: its throttling retry would sleep Retry-After inside our deadline and turn a
      // 429 into a timeout. The engine retries with backoff instead.
      retryOptions: { maxRetries: 0 },
      ...(options.tlsCaPem ? { tlsOptions: { ca: options.tlsCaPem } } : {}),
    };
    this.clientArgs = [options.config.keyVaultUrl, options.managedIdentity, clientOptions];
  }

  /** Built on the first Key Vault read, so that creating the broker does not load the Azure SDK. */
  private get secretClient(): SecretClient {
    this.secretClientInstance ??= new (azureSdk().SecretClient)(...this.clientArgs);
    return this.secretClientInstance;
  }

  /** The certificate client in certificate mode (first use builds it), otherwise undefined. */
  private get certificateClient(): CertificateClient | undefined {
    if (this.kind !== 'certificate') return undefined;
    this.certificateClientInstance ??= new (certificateSdk().CertificateClient)(...this.clientArgs);
    return this.certificateClientInstance;
  }

  peek(): ClientCredential | undefined {
    return this.inUse;
  }

  promote(credential: ClientCredential): void {
    if (credential.kind !== this.kind) return;
    const previous = this.inUse?.properties.version;
    this.inUse = credential;
    if (previous !== credential.properties.version) {
      this.log.info('CredentialPromoted', {
        credentialName: this.config.credentialName,
        version: credential.properties.version,
        previousVersion: previous,
      });
    }
  }

  current(): Promise<ClientCredential> {
    if (this.inUse !== undefined) return Promise.resolve(this.inUse);
    this.currentLoad ??= this.load().then(
      (credential) => {
        this.currentLoad = undefined;
        // A promote() that happened while we were reading wins.
        this.inUse ??= credential;
        return this.inUse;
      },
      (error: unknown) => {
        this.currentLoad = undefined;
        throw error;
      },
    );
    return this.currentLoad;
  }

  load(version?: string): Promise<ClientCredential> {
    const key = version ?? '';
    const running = this.loads.get(key);
    if (running !== undefined) return running;
    const started = (version === undefined ? this.readLatest() : this.readVersion(version)).finally(() => {
      this.loads.delete(key);
    });
    this.loads.set(key, started);
    return started;
  }

  latestProperties(): Promise<CredentialProperties> {
    this.propertiesRead ??= this.readLatestProperties().finally(() => {
      this.propertiesRead = undefined;
    });
    return this.propertiesRead;
  }

  private async readLatest(): Promise<ClientCredential> {
    try {
      const secret = await this.call('Reading the latest client credential', (abortSignal) =>
        this.secretClient.getSecret(this.config.credentialName, { abortSignal }),
      );
      if (secret.properties.enabled !== false) return this.toCredential(secret);
    } catch (error) {
      if (!(error instanceof BrokerError) || error.code !== 'keyvault_disabled') throw error;
    }
    // The newest version is disabled: fall back to the newest enabled one.
    const versions = await this.listVersions();
    const enabled = newestFirst(versions).find((properties) => properties.enabled !== false);
    if (enabled?.version === undefined) {
      throw new BrokerError('keyvault_disabled', 'Every version of the client credential in Key Vault is disabled.');
    }
    return this.readVersion(enabled.version);
  }

  private async readVersion(version: string): Promise<ClientCredential> {
    const secret = await this.call('Reading a version of the client credential', (abortSignal) =>
      this.secretClient.getSecret(this.config.credentialName, { version, abortSignal }),
    );
    if (secret.properties.enabled === false) {
      throw new BrokerError('keyvault_disabled', 'That version of the client credential is disabled in Key Vault.');
    }
    return this.toCredential(secret);
  }

  private async readLatestProperties(): Promise<CredentialProperties> {
    // getSecret would return the value; the certificate's own endpoint and the version listing do not.
    if (this.certificateClient !== undefined) {
      const client = this.certificateClient;
      try {
        const certificate = await this.call('Reading the client certificate properties', (abortSignal) =>
          client.getCertificate(this.config.credentialName, { abortSignal }),
        );
        if (certificate.properties.enabled !== false) return this.toProperties(certificate.properties);
      } catch (error) {
        if (!(error instanceof BrokerError) || error.code !== 'keyvault_disabled') throw error;
      }
    }
    const versions = newestFirst(await this.listVersions());
    const enabled = versions.filter((properties) => properties.enabled !== false);
    const chosen = enabled[0] ?? versions[0];
    if (chosen === undefined) {
      throw new BrokerError('keyvault_not_found', 'The client credential has no versions in Key Vault.');
    }
    const runnerUp = enabled[1];
    if (this.certificateClient === undefined && runnerUp !== undefined && createdMs(runnerUp) === createdMs(chosen)) {
      // Key Vault's `created` has one-second resolution, so two versions set in the same second
      // (a rotation right after a deployment) cannot be ordered from the listing. Key Vault itself
      // knows which is current: ask it. This reads the value, in this rare case only.
      return this.toProperties(await this.readLatestSecretProperties(chosen));
    }
    return this.toProperties(chosen);
  }

  private async readLatestSecretProperties(fallback: AnyProperties): Promise<AnyProperties> {
    try {
      const latest = await this.call('Reading which client credential version is current', (abortSignal) =>
        this.secretClient.getSecret(this.config.credentialName, { abortSignal }),
      );
      return latest.properties.enabled === false ? fallback : latest.properties;
    } catch (error) {
      if (error instanceof BrokerError && error.code === 'keyvault_disabled') return fallback;
      throw error;
    }
  }

  private listVersions(): Promise<AnyProperties[]> {
    const name = this.config.credentialName;
    return this.call('Listing versions of the client credential', async (abortSignal) => {
      const found: AnyProperties[] = [];
      const pages =
        this.certificateClient !== undefined
          ? this.certificateClient.listPropertiesOfCertificateVersions(name, { abortSignal })
          : this.secretClient.listPropertiesOfSecretVersions(name, { abortSignal });
      for await (const properties of pages) found.push(properties);
      return found;
    });
  }

  /** One Key Vault operation under our deadline; on timeout the request is aborted. */
  private async call<T>(what: string, operation: (abortSignal: AbortSignal) => Promise<T>): Promise<T> {
    const controller = new AbortController();
    try {
      return await withDeadline(operation(controller.signal), this.timeoutMs, 'keyvault_timeout', what);
    } catch (error) {
      controller.abort();
      const classified = classifyKeyVaultError(error, this.clock.now(), what);
      this.log.warn('KeyVaultReadFailed', {
        credentialName: this.config.credentialName,
        credentialKind: this.kind,
        error: classified,
      });
      throw classified;
    }
  }

  private toCredential(secret: KeyVaultSecret): ClientCredential {
    const value = secret.value;
    if (typeof value !== 'string' || value === '') {
      throw new BrokerError('credential_invalid', 'The client credential in Key Vault has no value.');
    }
    this.secrets.add(value);
    const base = this.toProperties(secret.properties);
    let credential: ClientCredential;
    if (this.kind === 'secret') {
      credential = Object.freeze({ kind: 'secret', properties: base, secret: value });
    } else {
      const normalized = normalizeCertificateSecret(value, secret.properties.contentType);
      this.secrets.add(normalized.privateKeyPem);
      this.secrets.add(pemBody(normalized.privateKeyPem));
      credential = Object.freeze({
        kind: 'certificate',
        properties: Object.freeze({ ...base, expiresOnMs: normalized.notAfterMs, notBeforeMs: normalized.notBeforeMs }),
        pem: normalized.pem,
      });
    }
    this.log.info('CredentialLoaded', {
      credentialName: this.config.credentialName,
      credentialKind: this.kind,
      version: credential.properties.version,
      expiresOn: isoOrUndefined(credential.properties.expiresOnMs),
    });
    return credential;
  }

  private toProperties(properties: AnyProperties): CredentialProperties {
    return Object.freeze({
      name: this.config.credentialName,
      kind: this.kind,
      version: properties.version ?? '',
      enabled: properties.enabled !== false,
      expiresOnMs: properties.expiresOn?.getTime(),
      notBeforeMs: properties.notBefore?.getTime(),
      createdOnMs: properties.createdOn?.getTime(),
      updatedOnMs: properties.updatedOn?.getTime(),
    });
  }
}

/**
 * Newest first by `created` (then `updated`). Key Vault's timestamps have one-second resolution, so
 * versions created in the same second tie; the one listed later wins the tie (the listing is in
 * creation order in the emulator; in Azure the order is unspecified and such a tie is a coin toss).
 */
function createdMs(properties: AnyProperties): number {
  return properties.createdOn?.getTime() ?? properties.updatedOn?.getTime() ?? 0;
}

function newestFirst(versions: AnyProperties[]): AnyProperties[] {
  const time = createdMs;
  // Array.prototype.sort is stable: reversing first makes later-listed versions win ties.
  return [...versions]
    .reverse()
    .sort((a, b) => time(b) - time(a) || (b.updatedOn?.getTime() ?? 0) - (a.updatedOn?.getTime() ?? 0));
}

function pemBody(pem: string): string {
  return pem.replace(/-----[A-Z ]+-----/g, '').replace(/\s+/g, '');
}

function isoOrUndefined(ms: number | undefined): string | undefined {
  return ms === undefined ? undefined : new Date(ms).toISOString();
}
