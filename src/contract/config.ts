import { Cron } from 'croner';
import { BrokerError } from './errors';
import { describeScopeProblem, scopeKey } from './scope';

export type CredentialKind = 'secret' | 'certificate' | 'federated';

/** The broker's settings (the settings table in README.md), parsed and validated once, then frozen. */
export interface BrokerConfig {
  readonly tenantId: string;
  readonly clientId: string;
  /** Without a trailing slash, e.g. `https://login.microsoftonline.com`. */
  readonly authorityHost: string;
  /** Without a trailing slash. */
  readonly keyVaultUrl: string;
  readonly credentialName: string;
  readonly credentialKind: CredentialKind;
  /** Scopes the broker serves, as configured; the first is the default. */
  readonly tokenScopes: readonly string[];
  /** `scopeKey` of each served scope → its configured spelling (what requests are matched against). */
  readonly tokenScopesByKey: ReadonlyMap<string, string>;
  readonly defaultScope: string;
  readonly callerAudiences: readonly string[];
  readonly callerTenants: readonly string[];
  /** Undefined when no role is required. */
  readonly callerRequiredRole: string | undefined;
  /** Caller app ID (lower case) → scope keys (see `scopeKey`) it may get. */
  readonly callerPolicy: ReadonlyMap<string, ReadonlySet<string>>;
  readonly tokenMinLifetimeSeconds: number;
  readonly callerRateLimitPerMinute: number;
  readonly warmupSchedule: string;
  /** Days before expiry at which to warn, largest first. */
  readonly secretExpiryWarningDays: readonly number[];
  readonly alertWebhookUrl: string | undefined;
  /** Client ID of a user-assigned managed identity; undefined for the system-assigned one. */
  readonly managedIdentityClientId: string | undefined;
}

export type SettingsSource = Readonly<Record<string, string | undefined>>;

/** Every documented broker setting, in the order of its table. */
export const BROKER_SETTING_NAMES = [
  'ENTRA_TENANT_ID',
  'ENTRA_CLIENT_ID',
  'ENTRA_AUTHORITY_HOST',
  'KEY_VAULT_URL',
  'CLIENT_CREDENTIAL_NAME',
  'CLIENT_CREDENTIAL_KIND',
  'TOKEN_SCOPES',
  'CALLER_AUDIENCES',
  'CALLER_TENANTS',
  'CALLER_REQUIRED_ROLE',
  'CALLER_POLICY',
  'TOKEN_MIN_LIFETIME_SECONDS',
  'CALLER_RATE_LIMIT_PER_MINUTE',
  'WARMUP_SCHEDULE',
  'SECRET_EXPIRY_WARNING_DAYS',
  'ALERT_WEBHOOK_URL',
  'AZURE_CLIENT_ID',
] as const;

export const DEFAULT_AUTHORITY_HOST = 'https://login.microsoftonline.com';
export const DEFAULT_CREDENTIAL_NAME = 'entra-client-secret';
export const DEFAULT_REQUIRED_ROLE = 'Token.Request';
export const DEFAULT_WARMUP_SCHEDULE = '0 */5 * * * *';

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const KEY_VAULT_OBJECT_NAME = /^[0-9a-zA-Z-]{1,127}$/;

class SettingsReader {
  readonly problems: string[] = [];
  constructor(private readonly source: SettingsSource) {}

  raw(name: string): string | undefined {
    const value = this.source[name];
    if (value === undefined) return undefined;
    const trimmed = value.trim();
    return trimmed;
  }

  problem(name: string, what: string): undefined {
    this.problems.push(`${name} ${what}`);
    return undefined;
  }

  required(name: string): string | undefined {
    const value = this.raw(name);
    if (value === undefined || value === '') return this.problem(name, 'is required but not set.');
    return value;
  }

  guid(name: string, value: string | undefined): string | undefined {
    if (value === undefined) return undefined;
    if (!GUID.test(value)) return this.problem(name, 'must be a GUID.');
    return value.toLowerCase();
  }

  httpsUrl(name: string, value: string | undefined): string | undefined {
    if (value === undefined) return undefined;
    let url: URL;
    try {
      url = new URL(value);
    } catch {
      return this.problem(name, 'must be an absolute https:// URL.');
    }
    if (url.protocol !== 'https:') return this.problem(name, 'must use https://.');
    if (url.username || url.password) return this.problem(name, 'must not contain credentials.');
    return value.replace(/\/+$/, '');
  }

  list(name: string, value: string | undefined): string[] | undefined {
    if (value === undefined) return undefined;
    const items = value
      .split(',')
      .map((item) => item.trim())
      .filter((item) => item !== '');
    if (items.length === 0) return this.problem(name, 'must hold at least one comma-separated value.');
    return [...new Set(items)];
  }

  integer(name: string, fallback: number, min: number, max: number): number {
    const value = this.raw(name);
    if (value === undefined || value === '') return fallback;
    if (!/^\d+$/.test(value)) {
      this.problem(name, `must be a whole number from ${min} to ${max}.`);
      return fallback;
    }
    const parsed = Number(value);
    if (parsed < min || parsed > max) this.problem(name, `must be a whole number from ${min} to ${max}.`);
    return parsed;
  }
}

/**
 * Parses and validates the broker's settings.
 * @throws BrokerError `config_invalid` naming every setting that is missing or malformed (never
 * echoing a value).
 */
export function parseConfig(source: SettingsSource): BrokerConfig {
  const r = new SettingsReader(source);

  const tenantId = r.guid('ENTRA_TENANT_ID', r.required('ENTRA_TENANT_ID'));
  const clientId = r.guid('ENTRA_CLIENT_ID', r.required('ENTRA_CLIENT_ID'));
  const authorityHost = parseAuthorityHost(r);
  const keyVaultUrl = r.httpsUrl('KEY_VAULT_URL', r.required('KEY_VAULT_URL'));

  const credentialName = r.raw('CLIENT_CREDENTIAL_NAME') || DEFAULT_CREDENTIAL_NAME;
  if (!KEY_VAULT_OBJECT_NAME.test(credentialName)) {
    r.problem('CLIENT_CREDENTIAL_NAME', 'must be a Key Vault object name (letters, digits and dashes, up to 127).');
  }
  const credentialKind = parseCredentialKind(r);

  const tokenScopes = parseTokenScopes(r);
  const callerAudiences = r.list('CALLER_AUDIENCES', r.required('CALLER_AUDIENCES'));
  const callerTenants = parseCallerTenants(r, tenantId);
  const requiredRoleRaw = r.raw('CALLER_REQUIRED_ROLE');
  const callerRequiredRole = requiredRoleRaw === undefined ? DEFAULT_REQUIRED_ROLE : requiredRoleRaw || undefined;
  const callerPolicy = parseCallerPolicy(r, tokenScopes);

  const tokenMinLifetimeSeconds = r.integer('TOKEN_MIN_LIFETIME_SECONDS', 300, 0, 3600);
  const callerRateLimitPerMinute = r.integer('CALLER_RATE_LIMIT_PER_MINUTE', 600, 1, 1_000_000);
  const warmupSchedule = parseSchedule(r);
  const secretExpiryWarningDays = parseWarningDays(r);
  const webhook = r.raw('ALERT_WEBHOOK_URL');
  const alertWebhookUrl = webhook ? r.httpsUrl('ALERT_WEBHOOK_URL', webhook) : undefined;
  const miClientId = r.raw('AZURE_CLIENT_ID');
  const managedIdentityClientId = miClientId ? r.guid('AZURE_CLIENT_ID', miClientId) : undefined;

  if (r.problems.length > 0) {
    const noun = r.problems.length === 1 ? 'setting is' : 'settings are';
    throw new BrokerError(
      'config_invalid',
      `The broker cannot start: ${r.problems.length} ${noun} wrong. ${r.problems.join(' ')}`,
    );
  }

  // Every value below was validated above; the assertions only narrow types.
  const scopes = tokenScopes as string[];
  return Object.freeze({
    tenantId: tenantId as string,
    clientId: clientId as string,
    authorityHost: authorityHost as string,
    keyVaultUrl: keyVaultUrl as string,
    credentialName,
    credentialKind: credentialKind as CredentialKind,
    tokenScopes: Object.freeze(scopes),
    tokenScopesByKey: new Map(scopes.map((scope) => [scopeKey(scope), scope])),
    defaultScope: scopes[0] as string,
    callerAudiences: Object.freeze(callerAudiences as string[]),
    callerTenants: Object.freeze(callerTenants as string[]),
    callerRequiredRole,
    callerPolicy: callerPolicy as ReadonlyMap<string, ReadonlySet<string>>,
    tokenMinLifetimeSeconds,
    callerRateLimitPerMinute,
    warmupSchedule,
    secretExpiryWarningDays: Object.freeze(secretExpiryWarningDays),
    alertWebhookUrl,
    managedIdentityClientId,
  });
}

function parseAuthorityHost(r: SettingsReader): string | undefined {
  const value = r.raw('ENTRA_AUTHORITY_HOST');
  if (value === undefined || value === '') return DEFAULT_AUTHORITY_HOST;
  const url = r.httpsUrl('ENTRA_AUTHORITY_HOST', value);
  if (url === undefined) return undefined;
  const parsed = new URL(url);
  if (parsed.pathname !== '/' || parsed.search || parsed.hash) {
    return r.problem('ENTRA_AUTHORITY_HOST', 'must be a host only (no path, query or fragment).');
  }
  return parsed.origin;
}

function parseCredentialKind(r: SettingsReader): CredentialKind | undefined {
  const value = (r.raw('CLIENT_CREDENTIAL_KIND') || 'secret').toLowerCase();
  if (value === 'secret' || value === 'certificate' || value === 'federated') return value;
  return r.problem('CLIENT_CREDENTIAL_KIND', 'must be one of secret, certificate, federated.');
}

function parseTokenScopes(r: SettingsReader): string[] | undefined {
  const scopes = r.list('TOKEN_SCOPES', r.required('TOKEN_SCOPES'));
  if (scopes === undefined) return undefined;
  const seen = new Set<string>();
  for (const [index, scope] of scopes.entries()) {
    const problem = describeScopeProblem(scope);
    if (problem) return r.problem('TOKEN_SCOPES', `entry ${index + 1} ${problem}.`);
    if (seen.has(scopeKey(scope))) return r.problem('TOKEN_SCOPES', `entry ${index + 1} repeats another scope.`);
    seen.add(scopeKey(scope));
  }
  return scopes;
}

function parseCallerTenants(r: SettingsReader, tenantId: string | undefined): string[] | undefined {
  const value = r.raw('CALLER_TENANTS');
  if (value === undefined || value === '') return tenantId === undefined ? undefined : [tenantId];
  const tenants = r.list('CALLER_TENANTS', value);
  if (tenants === undefined) return undefined;
  const parsed: string[] = [];
  for (const tenant of tenants) {
    const guid = r.guid('CALLER_TENANTS', tenant);
    if (guid === undefined) return undefined;
    parsed.push(guid);
  }
  return [...new Set(parsed)];
}

function parseCallerPolicy(
  r: SettingsReader,
  tokenScopes: readonly string[] | undefined,
): Map<string, ReadonlySet<string>> | undefined {
  const name = 'CALLER_POLICY';
  const value = r.required(name);
  if (value === undefined) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(value);
  } catch {
    return r.problem(name, 'must be a JSON object (caller app ID → array of scopes); it is not valid JSON.');
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    return r.problem(name, 'must be a JSON object mapping caller app IDs to arrays of scopes.');
  }
  const served = new Set((tokenScopes ?? []).map(scopeKey));
  const policy = new Map<string, ReadonlySet<string>>();
  for (const [callerId, scopes] of Object.entries(parsed as Record<string, unknown>)) {
    if (callerId.includes('*')) return r.problem(name, 'must not use "*" as a caller; name each caller app ID.');
    if (!GUID.test(callerId)) return r.problem(name, 'keys must be caller app IDs (GUIDs).');
    if (!Array.isArray(scopes) || !scopes.every((scope): scope is string => typeof scope === 'string')) {
      return r.problem(name, 'values must be arrays of scope strings.');
    }
    const allowed = new Set<string>();
    for (const scope of scopes) {
      if (scope.includes('*')) return r.problem(name, 'must not use "*" as a scope; list each scope.');
      const problem = describeScopeProblem(scope);
      if (problem) return r.problem(name, `has a scope that ${problem}.`);
      if (tokenScopes !== undefined && !served.has(scopeKey(scope))) {
        return r.problem(name, 'grants a scope that is not in TOKEN_SCOPES.');
      }
      allowed.add(scopeKey(scope));
    }
    const key = callerId.toLowerCase();
    if (policy.has(key)) return r.problem(name, 'names the same caller twice.');
    policy.set(key, allowed);
  }
  return policy;
}

function parseSchedule(r: SettingsReader): string {
  const value = r.raw('WARMUP_SCHEDULE') || DEFAULT_WARMUP_SCHEDULE;
  if (value.split(/\s+/).length !== 6) {
    r.problem(
      'WARMUP_SCHEDULE',
      'must be an NCRONTAB expression with six fields (second minute hour day month weekday).',
    );
    return value;
  }
  try {
    new Cron(value, { paused: true });
  } catch {
    r.problem('WARMUP_SCHEDULE', 'is not a valid NCRONTAB expression.');
  }
  return value;
}

function parseWarningDays(r: SettingsReader): number[] {
  const name = 'SECRET_EXPIRY_WARNING_DAYS';
  const value = r.raw(name);
  if (value === undefined || value === '') return [30, 14, 7, 3, 1];
  const items = r.list(name, value) ?? [];
  const days: number[] = [];
  for (const item of items) {
    if (!/^\d+$/.test(item) || Number(item) < 1 || Number(item) > 3650) {
      r.problem(name, 'must be a comma-separated list of whole numbers of days from 1 to 3650.');
      return [];
    }
    days.push(Number(item));
  }
  return [...new Set(days)].sort((a, b) => b - a);
}
