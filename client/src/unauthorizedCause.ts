/**
 * Why the broker answered 401 to a workload, as far as the workload can tell: from the broker's
 * description and from the claims of the token it sent (its own token — read here, never verified:
 * the broker did that).
 */
import type { UnauthorizedCause } from './errors';

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

function audienceOf(callerToken: string): string | undefined {
  try {
    const payload = JSON.parse(Buffer.from(callerToken.split('.')[1] ?? '', 'base64url').toString('utf8')) as {
      aud?: unknown;
    };
    return typeof payload.aud === 'string' ? payload.aud : undefined;
  } catch {
    return undefined;
  }
}

/** `api://x/.default` → `api://x`; a bare client ID stays as it is. */
function resourceOf(brokerScope: string): string {
  return brokerScope.replace(/\/\.default$/i, '').replace(/\/+$/, '');
}

/**
 * True when the token's `aud` cannot be the resource `brokerScope` names. A v2 token carries the
 * API's client ID (a GUID) even when asked for by its App ID URI, so a GUID audience only
 * contradicts a scope that names another GUID.
 */
function audienceContradicts(aud: string, brokerScope: string): boolean {
  const resource = resourceOf(brokerScope).toLowerCase();
  const audience = aud.replace(/\/+$/, '').toLowerCase();
  if (audience === resource) return false;
  if (GUID.test(audience)) {
    const named = resource.replace(/^api:\/\//, '');
    return GUID.test(named) && named !== audience;
  }
  return true;
}

/**
 * The likely cause of a 401 from the broker.
 * @param description the broker's `error_description` (it names the audience when that is the fault)
 * @param callerToken the token the workload sent
 * @param brokerScope the scope that token was asked for
 */
export function likelyUnauthorizedCause(
  description: string | undefined,
  callerToken: string,
  brokerScope: string,
): UnauthorizedCause {
  if (description !== undefined && /\baudience\b/i.test(description)) return 'audience';
  const aud = audienceOf(callerToken);
  if (aud !== undefined && audienceContradicts(aud, brokerScope)) return 'audience';
  return 'caller_credential';
}

/** One sentence for the error message: where to look. */
export function explainUnauthorizedCause(cause: UnauthorizedCause, brokerScope: string): string {
  return cause === 'audience'
    ? `Likely cause: the audience. brokerScope "${brokerScope}" must name the broker's own API (one of its CALLER_AUDIENCES, followed by /.default).`
    : "Likely cause: the workload's own credential. The token it got was refused (expired, from a tenant the broker does not accept, or not issued by Entra); check the credential passed as `credential`.";
}
