export const MAX_SCOPE_LENGTH = 512;
const DEFAULT_SUFFIX = '/.default';
// RFC 6749 §3.3 scope-token characters: %x21 / %x23-5B / %x5D-7E (no space, quote or backslash).
const SCOPE_TOKEN = /^[\x21\x23-\x5B\x5D-\x7E]+$/;

/** Why a scope string is not a client-credentials scope, or undefined when it is one. */
export function describeScopeProblem(scope: string): string | undefined {
  if (scope.length === 0) return 'is empty';
  if (scope.length > MAX_SCOPE_LENGTH) return `is longer than ${MAX_SCOPE_LENGTH} characters`;
  if (!SCOPE_TOKEN.test(scope)) return 'contains spaces, control or non-ASCII characters, quotes or backslashes';
  if (!scope.endsWith(DEFAULT_SUFFIX) || scope.length === DEFAULT_SUFFIX.length) {
    return 'must be a client-credentials scope ending in /.default';
  }
  return undefined;
}

/**
 * The key under which a scope is compared, cached and authorised. App ID URIs and client IDs are
 * case-insensitive in Entra, so `API://Qualys/.default` and `api://qualys/.default` are one scope.
 */
export function scopeKey(scope: string): string {
  return scope.toLowerCase();
}
