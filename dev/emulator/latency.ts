import { FAULT_TARGETS, type FaultTarget } from './faults';
import { MANAGED_IDENTITY_PATH } from './managedIdentity';

/**
 * Injected upstream latency: every request to an emulated service waits this long before it is
 * handled, as if Entra, managed identity, Key Vault or the key set were a network hop away. The
 * benchmark uses it to see which upstream calls a first caller waits for one after another.
 * Unlike a fault, latency is not consumed: it holds until cleared (or the emulator is reset).
 */
export type LatencyTarget = FaultTarget | 'all';
export const LATENCY_TARGETS: readonly LatencyTarget[] = [...FAULT_TARGETS, 'all'];

/** Longest injectable latency; a request that should never be answered is a `hang` fault instead. */
export const MAX_LATENCY_MS = 60_000;

export interface LatencySpec {
  target: LatencyTarget;
  ms: number;
}

/** Validates a latency from the control API; returns a description of the problem or the spec. */
export function parseLatencySpec(value: unknown): LatencySpec | string {
  if (value === null || typeof value !== 'object') return 'the body must be a JSON object';
  const v = value as Record<string, unknown>;
  if (!LATENCY_TARGETS.includes(v.target as LatencyTarget))
    return `target must be one of ${LATENCY_TARGETS.join(', ')}`;
  if (typeof v.ms !== 'number' || !Number.isInteger(v.ms) || v.ms < 0 || v.ms > MAX_LATENCY_MS)
    return `ms must be a whole number of milliseconds from 0 to ${MAX_LATENCY_MS}`;
  return { target: v.target as LatencyTarget, ms: v.ms };
}

const ENTRA_KEYS = /^\/[^/]+\/discovery\/(?:v2\.0\/)?keys$/;
const ENTRA_AUTHORITY =
  /^\/(?:[^/]+\/(?:oauth2\/v2\.0\/token|(?:v2\.0\/)?\.well-known\/openid-configuration)|(?:common|organizations)\/discovery\/instance)$/;
const KEY_VAULT = /^\/(?:secrets|certificates)(?:\/|$)/;

/**
 * Which service a request path belongs to. `token` is Entra's authority as MSAL uses it: the token
 * endpoint and the metadata read before it; `jwks` is the signing keys callers' tokens are checked with.
 * @returns undefined for paths of no emulated upstream (the control API, unknown paths).
 */
export function latencyTargetOf(path: string): FaultTarget | undefined {
  if (path === MANAGED_IDENTITY_PATH) return 'msi';
  if (KEY_VAULT.test(path)) return 'keyvault';
  if (ENTRA_KEYS.test(path)) return 'jwks';
  if (ENTRA_AUTHORITY.test(path)) return 'token';
  return undefined;
}

/** The latency in force per service. */
export class UpstreamLatency {
  private readonly delays = new Map<FaultTarget, number>();

  /** Sets one service's latency (`all`: every service's); 0 removes it. */
  set(spec: LatencySpec): void {
    const targets = spec.target === 'all' ? FAULT_TARGETS : [spec.target];
    for (const target of targets) {
      if (spec.ms === 0) this.delays.delete(target);
      else this.delays.set(target, spec.ms);
    }
  }

  clear(): void {
    this.delays.clear();
  }

  /** Services with a latency, in milliseconds. */
  list(): Partial<Record<FaultTarget, number>> {
    return Object.fromEntries(this.delays);
  }

  /** Waits the latency of the service `path` belongs to (resolves at once when there is none). */
  delay(path: string): Promise<void> {
    const target = latencyTargetOf(path);
    const ms = target === undefined ? undefined : this.delays.get(target);
    if (ms === undefined) return Promise.resolve();
    return new Promise((resolve) => setTimeout(resolve, ms));
  }
}
