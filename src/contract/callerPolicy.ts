/**
 * CALLER_POLICY: who may get which scope. Owns the policy key (app ID, or tenant and app ID with
 * several caller tenants) and the setting's parsing; imports only scope helpers. Parsed once by
 * config.ts.
 */
import { describeScopeProblem, scopeKey } from './scope';

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * The key of a caller in CALLER_POLICY and in the rate limiter. An app ID is unique only within a
 * tenant's directory view: with several caller tenants, the same app ID in another tenant may be a
 * different principal, so the key then holds the tenant too.
 */
export function callerPolicyKey(
  config: { readonly callerTenants: readonly string[] },
  tenantId: string,
  appId: string,
): string {
  const app = appId.toLowerCase();
  return config.callerTenants.length > 1 ? `${tenantId.toLowerCase()}/${app}` : app;
}

/**
 * Parses the CALLER_POLICY setting: `callerPolicyKey` → scope keys. `tokenScopes` undefined means
 * TOKEN_SCOPES itself is wrong (its problem is reported there), so served scopes are not checked.
 * @returns the policy, or what is wrong with it (never echoing a value).
 */
export function parseCallerPolicy(
  value: string,
  tokenScopes: readonly string[] | undefined,
  callerTenants: readonly string[],
): Map<string, ReadonlySet<string>> | { problem: string } {
  const problem = (what: string) => ({ problem: what });
  const multiTenant = callerTenants.length > 1;
  const shape = multiTenant ? '"<tenantId>/<appId>"' : 'caller app ID';
  let parsed: unknown;
  try {
    parsed = JSON.parse(value);
  } catch {
    return problem(`must be a JSON object (${shape} → array of scopes); it is not valid JSON.`);
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    return problem(`must be a JSON object mapping ${shape} keys to arrays of scopes.`);
  }
  const served = new Set((tokenScopes ?? []).map(scopeKey));
  const policy = new Map<string, ReadonlySet<string>>();
  for (const [callerId, scopes] of Object.entries(parsed as Record<string, unknown>)) {
    if (callerId.includes('*')) return problem('must not use "*" as a caller; name each caller app ID.');
    const key = parsePolicyKey(callerId, callerTenants);
    if (typeof key !== 'string') return problem(key.problem);
    if (!Array.isArray(scopes) || !scopes.every((scope): scope is string => typeof scope === 'string')) {
      return problem('values must be arrays of scope strings.');
    }
    const allowed = new Set<string>();
    for (const scope of scopes) {
      if (scope.includes('*')) return problem('must not use "*" as a scope; list each scope.');
      const scopeProblem = describeScopeProblem(scope);
      if (scopeProblem) return problem(`has a scope that ${scopeProblem}.`);
      if (tokenScopes !== undefined && !served.has(scopeKey(scope))) {
        return problem('grants a scope that is not in TOKEN_SCOPES.');
      }
      allowed.add(scopeKey(scope));
    }
    if (policy.has(key)) return problem('names the same caller twice.');
    policy.set(key, allowed);
  }
  return policy;
}

/**
 * One CALLER_POLICY key, as `callerPolicyKey` spells it. With one caller tenant a key is the app
 * ID (`<tenantId>/<appId>` naming that tenant is accepted too); with several, it must name the
 * tenant, so that an app ID trusted in one tenant is not trusted in another.
 */
function parsePolicyKey(raw: string, callerTenants: readonly string[]): string | { problem: string } {
  const parts = raw.split('/');
  const appId = parts[parts.length - 1] ?? '';
  const tenantId = parts.length === 2 ? (parts[0] ?? '') : undefined;
  if (parts.length > 2 || !GUID.test(appId) || (tenantId !== undefined && !GUID.test(tenantId))) {
    return {
      problem:
        callerTenants.length > 1
          ? 'keys must be "<tenantId>/<appId>" (GUIDs) when CALLER_TENANTS names several tenants.'
          : 'keys must be caller app IDs (GUIDs).',
    };
  }
  if (tenantId === undefined) {
    if (callerTenants.length > 1) {
      return {
        problem:
          'keys must name the tenant ("<tenantId>/<appId>") when CALLER_TENANTS names several tenants: an app ID alone would be trusted in every tenant.',
      };
    }
    return appId.toLowerCase();
  }
  if (callerTenants.length > 0 && !callerTenants.includes(tenantId.toLowerCase())) {
    return { problem: 'names a tenant that is not in CALLER_TENANTS.' };
  }
  return callerPolicyKey({ callerTenants }, tenantId, appId);
}
