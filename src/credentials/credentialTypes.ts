import type { CredentialKind } from '../contract/config';

/** Metadata of one version of the client credential in Key Vault (never its value). */
export interface CredentialProperties {
  readonly name: string;
  readonly kind: CredentialKind;
  /** Key Vault version id; `federated` credentials use the constant `federated`. */
  readonly version: string;
  readonly enabled: boolean;
  /** Secret `exp` attribute or certificate `notAfter`; undefined when none is set. */
  readonly expiresOnMs: number | undefined;
  readonly notBeforeMs: number | undefined;
  readonly createdOnMs: number | undefined;
  readonly updatedOnMs: number | undefined;
}

/** The client credential with its value, kept in memory only. */
export type ClientCredential =
  | { readonly kind: 'secret'; readonly properties: CredentialProperties; readonly secret: string }
  | {
      readonly kind: 'certificate';
      readonly properties: CredentialProperties;
      /** PEM holding the certificate and its private key, as ClientCertificateCredential wants it. */
      readonly pem: string;
    }
  | { readonly kind: 'federated'; readonly properties: CredentialProperties };

/**
 * Where the broker's client credential comes from (Key Vault, read with the managed identity).
 * All methods share in-flight reads (single-flight) and have their own deadline.
 */
export interface CredentialSource {
  /**
   * The credential in use; the first call loads the latest enabled version.
   * @throws BrokerError keyvault_* or credential_invalid.
   */
  current(): Promise<ClientCredential>;
  /** The credential in use if one is loaded, without any I/O. */
  peek(): ClientCredential | undefined;
  /**
   * Properties of the latest version, without reading its value.
   * @throws BrokerError keyvault_*.
   */
  latestProperties(): Promise<CredentialProperties>;
  /**
   * Reads one version with its value without making it current (used to try a new version first).
   * @throws BrokerError keyvault_* or credential_invalid.
   */
  load(version?: string): Promise<ClientCredential>;
  /** Makes `credential` the one in use. */
  promote(credential: ClientCredential): void;
}
