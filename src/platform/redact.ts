/**
 * Scrubbing of anything that could carry a credential before it reaches a log line or an error
 * message. Defence in depth: code should not hand secrets to the logger in the first place.
 */

const JWT_PATTERN = /eyJ[A-Za-z0-9_-]{2,}\.[A-Za-z0-9_-]*(?:\.[A-Za-z0-9_-]*)?/g;
const FORM_SECRET_PATTERN =
  /\b(client_secret|client_assertion|assertion|access_token|refresh_token|password)=([^&\s"']*)/gi;
const JSON_SECRET_PATTERN =
  /"(client_secret|client_assertion|access_token|refresh_token|password|value)"\s*:\s*"(?:[^"\\]|\\.)*"/gi;
const AUTHORIZATION_PATTERN = /\b(Bearer|Basic)\s+[A-Za-z0-9._~+/=-]+/gi;
const PEM_PATTERN = /-----BEGIN [A-Z ]*-----[\s\S]*?(?:-----END [A-Z ]*-----|$)/g;
// One cheap scan decides whether the five patterns above need to run at all: most log lines (the
// audit line of every request) hold none of these markers, and the full scrub costs microseconds.
const SUSPICIOUS_MARKERS =
  /eyJ|-----BEGIN|bearer|basic|client_secret|assertion|access_token|refresh_token|password|"value"/i;

/** Values registered at run time (the loaded client secret) are scrubbed wherever they appear. */
export class SecretRegistry {
  private readonly values = new Set<string>();

  add(value: string): void {
    // Very short values would scrub ordinary words; real secrets are long.
    if (value.length >= 8) this.values.add(value);
  }

  scrub(text: string): string {
    let result = text;
    for (const value of this.values) {
      if (result.includes(value)) result = result.split(value).join('[redacted]');
    }
    return result;
  }
}

export function redactText(text: string, registry?: SecretRegistry): string {
  if (!SUSPICIOUS_MARKERS.test(text)) return registry ? registry.scrub(text) : text;
  const scrubbed = text
    .replace(PEM_PATTERN, '[redacted-pem]')
    .replace(JWT_PATTERN, '[redacted-jwt]')
    .replace(FORM_SECRET_PATTERN, '[redacted-credential-parameter]')
    .replace(JSON_SECRET_PATTERN, '"$1":"[redacted]"')
    .replace(AUTHORIZATION_PATTERN, '$1 [redacted]');
  return registry ? registry.scrub(scrubbed) : scrubbed;
}

/** Shortens untrusted input (a scope, a header) before it is logged; JSON encoding escapes it. */
export function truncateForLog(text: string, maxLength = 200): string {
  return text.length <= maxLength ? text : `${text.slice(0, maxLength)}…(${text.length} chars)`;
}

const UPSTREAM_CODE = /^[A-Za-z0-9_.-]{1,64}$/;

function upstreamCode(value: unknown): string | undefined {
  return typeof value === 'string' && UPSTREAM_CODE.test(value) ? value : undefined;
}

/**
 * A stand-in for an upstream error that keeps its name and short codes but none of its text, its
 * stack or its request (SDK errors can carry the request with its headers and form body, and
 * parse errors quote the response body).
 */
export function summarizeUpstreamError(error: unknown): Error {
  const summary = new Error('upstream error (details withheld)');
  if (error !== null && typeof error === 'object') {
    const e = error as { name?: unknown; code?: unknown; statusCode?: unknown; errorCode?: unknown };
    if (typeof e.name === 'string' && UPSTREAM_CODE.test(e.name)) summary.name = e.name;
    const code = upstreamCode(e.code) ?? upstreamCode(e.errorCode);
    if (code !== undefined) Object.assign(summary, { code });
    if (typeof e.statusCode === 'number') Object.assign(summary, { statusCode: e.statusCode });
  }
  summary.stack = `${summary.name}: ${summary.message}`;
  return summary;
}
