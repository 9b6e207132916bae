/**
 * Small fakes for the warm-up timer's unit tests: a clock that moves only when told, a credential
 * source holding versions in memory and an engine whose outcomes the test scripts (the recording
 * alert sink is RecordingAlerts in ./recordingAlerts).
 */
import { type BrokerConfig, parseConfig } from '../../../src/contract/config';
import { DAY_MS } from '../../../src/operations/credentialMonitor';
import type {
  ClientCredential,
  CredentialProperties,
  CredentialSource,
} from '../../../src/credentials/credentialTypes';
import type { Clock } from '../../../src/platform/clock';
import { BrokerError } from '../../../src/contract/errors';
import type { ServedToken } from '../../../src/tokens/tokenProvider';
import type { RefreshOutcome } from '../../../src/tokens/tokenEngine';
import type { WarmupEngine } from '../../../src/operations/warmup';
import { FAKE_START_MS, FakeClock } from './fakeClock';

export const START_MS = FAKE_START_MS;

/** A FakeClock that also moves by whole days (credential expiry is counted in days). */
export class ManualClock extends FakeClock {
  advanceDays(days: number): void {
    this.advance(days * DAY_MS);
  }
}

export const SCOPE_A = 'api://11111111-1111-1111-1111-111111111111/.default';
export const SCOPE_B = 'api://22222222-2222-2222-2222-222222222222/.default';

export function warmupConfig(overrides: Record<string, string> = {}): BrokerConfig {
  return parseConfig({
    ENTRA_TENANT_ID: 'aaaaaaaa-aaaa-aaaa-aaaa-aaaaaaaaaaaa',
    ENTRA_CLIENT_ID: 'bbbbbbbb-bbbb-bbbb-bbbb-bbbbbbbbbbbb',
    KEY_VAULT_URL: 'https://vault.example',
    TOKEN_SCOPES: `${SCOPE_A},${SCOPE_B}`,
    CALLER_AUDIENCES: 'api://entra-token-broker',
    CALLER_POLICY: '{}',
    SECRET_EXPIRY_WARNING_DAYS: '30,14,7,3,1',
    WARMUP_SCHEDULE: '0 */5 * * * *',
    ...overrides,
  });
}

interface StoredVersion {
  properties: CredentialProperties;
  secret: string;
}

export interface FakeVersionOptions {
  /** Days from `clock.now()`; null = no expiry. Default 90. */
  expiresInDays?: number | null;
  enabled?: boolean;
  secret?: string;
  kind?: 'secret' | 'certificate';
  /** Default: a distinct, increasing time per version (Key Vault's `created`). */
  createdOnMs?: number;
}

/** Versions in memory; `latestProperties` is the newest version, as Key Vault's GET without version. */
export class FakeCredentialSource implements CredentialSource {
  readonly versions: StoredVersion[] = [];
  inUse: ClientCredential | undefined;
  valueReads = 0;
  propertyReads = 0;
  failPropertiesWith: BrokerError | undefined;
  failLoadWith: BrokerError | undefined;
  readonly promoted: string[] = [];
  private counter = 0;

  constructor(
    private readonly clock: Clock,
    private readonly name = 'entra-client-secret',
  ) {}

  addVersion(options: FakeVersionOptions = {}): string {
    this.counter += 1;
    const version = `v${this.counter}`;
    const expires = options.expiresInDays === undefined ? 90 : options.expiresInDays;
    this.versions.push({
      properties: {
        name: this.name,
        kind: options.kind ?? 'secret',
        version,
        enabled: options.enabled ?? true,
        expiresOnMs: expires === null ? undefined : this.clock.now() + expires * DAY_MS,
        notBeforeMs: undefined,
        createdOnMs: options.createdOnMs ?? this.clock.now() + this.counter * 1000,
        updatedOnMs: this.clock.now(),
      },
      secret: options.secret ?? `secret-value-${version}-0123456789`,
    });
    return version;
  }

  setEnabled(version: string, enabled: boolean): void {
    const stored = this.find(version);
    stored.properties = { ...stored.properties, enabled };
  }

  async current(): Promise<ClientCredential> {
    this.inUse ??= await this.load();
    return this.inUse;
  }

  peek(): ClientCredential | undefined {
    return this.inUse;
  }

  async latestProperties(): Promise<CredentialProperties> {
    this.propertyReads += 1;
    if (this.failPropertiesWith) throw this.failPropertiesWith;
    // Like the Key Vault source: the newest enabled version, or the newest when all are disabled.
    const newestFirst = [...this.versions].reverse();
    const latest = newestFirst.find((item) => item.properties.enabled) ?? newestFirst[0];
    if (!latest) throw new BrokerError('keyvault_not_found', 'No such secret.');
    return latest.properties;
  }

  async load(version?: string): Promise<ClientCredential> {
    this.valueReads += 1;
    if (this.failLoadWith) throw this.failLoadWith;
    const stored = version === undefined ? this.versions[this.versions.length - 1] : this.find(version);
    if (!stored) throw new BrokerError('keyvault_not_found', 'No such secret.');
    const { properties, secret } = stored;
    return properties.kind === 'certificate'
      ? { kind: 'certificate', properties, pem: secret }
      : { kind: 'secret', properties, secret };
  }

  promote(credential: ClientCredential): void {
    this.promoted.push(credential.properties.version);
    this.inUse = credential;
  }

  private find(version: string): StoredVersion {
    const stored = this.versions.find((item) => item.properties.version === version);
    if (!stored) throw new BrokerError('keyvault_not_found', `No version ${version}.`);
    return stored;
  }
}

/** An engine whose answers the test sets per scope and per credential version. */
export class FakeWarmupEngine implements WarmupEngine {
  readonly refreshCalls: string[] = [];
  readonly tried: Array<{ version: string; scope: string }> = [];
  outcomes = new Map<string, RefreshOutcome>();
  failingSince = new Map<string, number>();
  /** Versions Entra refuses, with the error to throw. */
  refuse = new Map<string, BrokerError>();

  constructor(
    private readonly clock: Clock,
    private readonly source?: FakeCredentialSource,
  ) {}

  async refreshIfDue(scope: string): Promise<RefreshOutcome> {
    this.refreshCalls.push(scope);
    // Like the real engine: the first acquisition loads the credential.
    if (this.source) await this.source.current().catch(() => undefined);
    return this.outcomes.get(scope) ?? { scope, outcome: 'fresh' };
  }

  async tryCredential(credential: ClientCredential, scope: string): Promise<ServedToken> {
    this.tried.push({ version: credential.properties.version, scope });
    const refusal = this.refuse.get(credential.properties.version);
    if (refusal) throw refusal;
    const now = this.clock.now();
    return {
      accessToken: 'fake-token',
      expiresOnMs: now + 3_600_000,
      refreshAtMs: now + 1_800_000,
      scope,
      cacheHit: false,
    };
  }

  failingSinceMs(scope: string): number | undefined {
    return this.failingSince.get(scope);
  }
}

export function rejected(version: string): BrokerError {
  return new BrokerError('entra_credential_rejected', `Entra refused the client credential ${version}.`, {
    upstreamStatus: 401,
    upstreamError: 'invalid_client',
    aadsts: 7000215,
  });
}
