import type { BrokerConfig } from '../contract/config';

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * Which `aud` values a caller token may carry. Owns the two spellings rules of Entra's access
 * tokens (docs/azure-fidelity.md, "v1 access tokens" and "several caller tenants"); imports only
 * the settings type.
 */
export class CallerAudiences {
  /** Every accepted spelling, for jose's audience check. */
  readonly all: readonly string[];
  private readonly appIds: ReadonlySet<string>;
  private readonly homeTenant: string;

  constructor(config: Pick<BrokerConfig, 'callerAudiences' | 'tenantId'>) {
    const spellings = new Set<string>();
    for (const audience of config.callerAudiences) {
      if (GUID.test(audience)) {
        // Entra writes GUIDs in lower case; a setting typed in upper case must still match.
        spellings.add(audience.toLowerCase());
        spellings.add(audience);
        continue;
      }
      // A v1 token's `aud` is the resource as the caller asked for it: `api://x/.default` gives
      // `api://x`, but `api://x//.default` (what several SDKs build from `api://x/`) gives `api://x/`.
      const bare = audience.replace(/\/+$/, '');
      spellings.add(bare);
      spellings.add(`${bare}/`);
    }
    this.all = Object.freeze([...spellings]);
    this.appIds = new Set(config.callerAudiences.filter((audience) => GUID.test(audience)).map((a) => a.toLowerCase()));
    this.homeTenant = config.tenantId.toLowerCase();
  }

  /**
   * Whether a token of `tenantId` may name `audience`. An identifier URI is unique only within one
   * tenant: another tenant can register an app with the same `api://…` URI and get tokens for it
   * that name it. Only the broker API's app ID (a GUID) is unique everywhere, so tokens from tenants
   * other than the broker's own must carry it.
   */
  acceptsFrom(tenantId: string, audience: unknown): boolean {
    if (tenantId === this.homeTenant) return true;
    const audiences = Array.isArray(audience) ? audience : [audience];
    return audiences.some((aud) => typeof aud === 'string' && this.appIds.has(aud.toLowerCase()));
  }
}
