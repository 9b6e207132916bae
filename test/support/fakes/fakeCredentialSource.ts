/**
 * An in-memory CredentialSource: versions of a client secret, the last added being the latest.
 * `current()` loads the latest on first use (single-flight, like the real one); `counts` tells how
 * often each method ran and `valueReads` how many times a value was "read from Key Vault";
 * `failNext` / `failAlways` script Key Vault failures.
 */
import type {
  ClientCredential,
  CredentialProperties,
  CredentialSource,
} from '../../../src/credentials/credentialTypes';

type Method = 'current' | 'load' | 'latestProperties';

/** Properties of an enabled secret version `v1` with no dates; `overrides` change any of them. */
export function fakeProperties(overrides: Partial<CredentialProperties> = {}): CredentialProperties {
  return {
    name: 'entra-client-secret',
    kind: 'secret',
    version: 'v1',
    enabled: true,
    expiresOnMs: undefined,
    notBeforeMs: undefined,
    createdOnMs: undefined,
    updatedOnMs: undefined,
    ...overrides,
  };
}

export class FakeCredentialSource implements CredentialSource {
  readonly counts: Record<Method, number> = { current: 0, load: 0, latestProperties: 0 };
  /** Value reads (first `current()` load and every `load()`), i.e. Key Vault GETs of a value. */
  valueReads = 0;
  /** Versions passed to `promote`, in order. */
  readonly promoted: string[] = [];

  private readonly versions: ClientCredential[] = [];
  private inUse: ClientCredential | undefined;
  private loading: Promise<ClientCredential> | undefined;
  private readonly nextFailures: Record<Method, Error[]> = { current: [], load: [], latestProperties: [] };
  private readonly alwaysFailures: Partial<Record<Method, Error>> = {};
  private counter = 0;

  constructor(private readonly options: { name?: string; expiresOnMs?: number } = {}) {
    this.addVersion();
  }

  /** Adds a new latest version (a rotation in Key Vault) and returns it; not promoted. */
  addVersion(version?: string): ClientCredential {
    this.counter += 1;
    const id = version ?? `v${this.counter}`;
    const properties = fakeProperties({
      name: this.options.name ?? 'entra-client-secret',
      version: id,
      expiresOnMs: this.options.expiresOnMs,
    });
    const credential: ClientCredential = { kind: 'secret', properties, secret: `fake-secret-${id}-value` };
    this.versions.push(credential);
    return credential;
  }

  latest(): ClientCredential {
    const latest = this.versions[this.versions.length - 1];
    if (!latest) throw new Error('FakeCredentialSource has no versions');
    return latest;
  }

  /** The next call of `method` rejects with `error` (queued; one per call). */
  failNext(method: Method, error: Error): void {
    this.nextFailures[method].push(error);
  }

  /** Every call of `method` rejects with `error` until called again with undefined. */
  failAlways(method: Method, error: Error | undefined): void {
    if (error) this.alwaysFailures[method] = error;
    else delete this.alwaysFailures[method];
  }

  /** A failure scripted for `current` is thrown even when a credential is loaded (a source that re-reads). */
  current(): Promise<ClientCredential> {
    this.counts.current += 1;
    const failure = this.takeFailure('current');
    if (failure) return Promise.reject(failure);
    if (this.inUse) return Promise.resolve(this.inUse);
    this.loading ??= this.read(undefined).then(
      (credential) => {
        this.inUse = credential;
        this.loading = undefined;
        return credential;
      },
      (error: unknown) => {
        this.loading = undefined;
        throw error;
      },
    );
    return this.loading;
  }

  peek(): ClientCredential | undefined {
    return this.inUse;
  }

  latestProperties(): Promise<CredentialProperties> {
    this.counts.latestProperties += 1;
    const failure = this.takeFailure('latestProperties');
    return failure ? Promise.reject(failure) : Promise.resolve(this.latest().properties);
  }

  load(version?: string): Promise<ClientCredential> {
    this.counts.load += 1;
    return this.read('load', version);
  }

  promote(credential: ClientCredential): void {
    this.inUse = credential;
    this.promoted.push(credential.properties.version);
  }

  private async read(method: Method | undefined, version?: string): Promise<ClientCredential> {
    await Promise.resolve();
    const failure = method && this.takeFailure(method);
    if (failure) throw failure;
    this.valueReads += 1;
    if (version === undefined) return this.latest();
    const found = this.versions.find((candidate) => candidate.properties.version === version);
    if (!found) throw new Error(`FakeCredentialSource has no version ${version}`);
    return found;
  }

  private takeFailure(method: Method): Error | undefined {
    return this.nextFailures[method].shift() ?? this.alwaysFailures[method];
  }
}
