/**
 * The shapes of a running emulator, apart from the code that starts one, so that the control API
 * and the entry point can both name them without importing each other.
 */
import type { CredentialKind, RotateOptions } from './brokerCredentials';
import type { FaultSpec, FaultTarget } from './faults';
import type { KeyVaultPaging } from './keyVault';
import type { LatencySpec } from './latency';
import type { EmulatorCaller } from './tenant';

export interface FederatedCredentialChange {
  subject?: string;
  issuer?: string;
  audience?: string;
}

/** What the broker API's app registration says about the access tokens issued for it. */
export interface BrokerApiSettings {
  /** `accessTokenAcceptedVersion`: 1 (Entra's default) or 2. */
  accessTokenVersion?: 1 | 2;
  /** Whether `idtyp` is requested as an optional access token claim. */
  idtypClaim?: boolean;
  /** "Assignment required" on its service principal. */
  appRoleAssignmentRequired?: boolean;
}

export interface EmulatorStats {
  /** clientId -> scope -> count (every /oauth2/v2.0/token request, ok or not). */
  tokenRequests: Record<string, Record<string, number>>;
  /** secret/certificate name -> count of authenticated GETs of a value (by version or latest). */
  keyVaultReads: Record<string, number>;
  managedIdentityRequests: number;
}

/** Everything a client of the emulator needs (the control API's `GET /info`; `.local/emulator-info.json`). */
export type EmulatorInfo = Pick<
  RunningEmulator,
  | 'url'
  | 'tenantId'
  | 'authorityHost'
  | 'tokenEndpoint'
  | 'jwksUri'
  | 'keyVaultUrl'
  | 'identityEndpoint'
  | 'managedIdentity'
  | 'broker'
  | 'scopes'
  | 'callers'
  | 'thirdPartyApi'
  | 'controlUrl'
>;

export interface RunningEmulator {
  url: string;
  caPem: string;
  tenantId: string;
  authorityHost: string;
  tokenEndpoint: string;
  jwksUri: string;
  keyVaultUrl: string;
  identityEndpoint: string;
  identityHeader: string;
  managedIdentity: { clientId: string; principalId: string };
  broker: {
    clientId: string;
    credentialName: string;
    credentialKind: CredentialKind;
    audience: string;
    audienceUri: string;
  };
  scopes: string[];
  callers: EmulatorCaller[];
  thirdPartyApi: { url: string; audience: string };
  controlUrl: string;
  brokerSettings(): Record<string, string>;
  stats(): EmulatorStats;
  setFault(fault: FaultSpec): void;
  clearFaults(): void;
  /** Delays every request to a service (or `all`) by `ms` until cleared; 0 removes it. */
  setLatency(latency: LatencySpec): void;
  clearLatency(): void;
  /**
   * Calls `listener` as each request to an emulated upstream arrives, before any injected latency
   * (in-process users only: the benchmark times when a cold broker's first upstream request left).
   * @returns a function that stops the calls
   */
  onUpstreamRequest(listener: (arrival: UpstreamArrival) => void): () => void;
  /** Counts, faults and latency back to none. */
  reset(): void;
  rotate(options: RotateOptions): Promise<{ version: string }>;
  setSecretEnabled(version: string, enabled: boolean): void;
  revokeCredential(version: string): void;
  expireCredentialInEntra(version: string): void;
  /** Federated mode: change the subject the broker app's federated credential trusts (AADSTS700213 drill). */
  setFederatedSubject(subject: string): void;
  /** Federated mode: change what the federated credential trusts (issuer → 700211, audience → 700212, subject → 700213). */
  setFederatedCredential(change: FederatedCredentialChange): void;
  /** Assigns or unassigns a managed identity (by client ID); unassigned, the endpoint answers 400 for it. */
  setManagedIdentityAssigned(clientId: string, assigned: boolean): void;
  /** How Key Vault pages listings from now on. */
  setKeyVaultPaging(paging: Partial<KeyVaultPaging>): KeyVaultPaging;
  /** The broker API app's token settings (accepted version, idtyp optional claim, assignment required). */
  configureBrokerApi(settings: BrokerApiSettings): BrokerApiSettings;
  /** Publishes the next signing key without using it; the next `rollSigningKeys` signs with it. */
  publishSigningKey(): Promise<{ kid: string }>;
  signJwt(
    claims: Record<string, unknown>,
    options?: { kid?: string; header?: Record<string, unknown> },
  ): Promise<string>;
  callerToken(caller: EmulatorCaller | string, scope?: string): Promise<string>;
  rollSigningKeys(): Promise<{ kid: string }>;
  /** Extension: the public facts as one JSON-able object (callers include their secrets). */
  info(): EmulatorInfo;
  close(): Promise<void>;
}

/** A request to an emulated upstream, as it arrived. */
export interface UpstreamArrival {
  readonly target: FaultTarget;
  readonly path: string;
  /** `performance.now()` at arrival. */
  readonly atMs: number;
}
