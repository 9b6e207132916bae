import type { CallerIdentity } from '../../../src/callers/callerAuth';
import { BrokerError } from '../../../src/contract/errors';
import { authorizeScope } from '../../../src/callers/policy';
import { type BrokerConfig, callerPolicyKey } from '../../../src/contract/config';
import {
  CALLER_APP_ID,
  DENIED_APP_ID,
  makeConfig,
  OTHER_TENANT,
  SCOPE_A,
  SCOPE_B,
  TENANT,
} from '../../support/frontDoorFixture';

const config = makeConfig();

/** The identity CallerAuthenticator builds for `appId` of `tenantId` (the app ID lower-cased, as it does). */
const caller = (appId: string, tenantId = TENANT, forConfig: BrokerConfig = config): CallerIdentity => ({
  tenantId,
  appId: appId.toLowerCase(),
  policyKey: callerPolicyKey(forConfig, tenantId, appId),
  objectId: undefined,
  roles: ['Token.Request'],
  tokenHash: 'abc',
});

function refused(fn: () => unknown): void {
  expect(fn).toThrow(BrokerError);
  try {
    fn();
  } catch (error) {
    expect((error as BrokerError).code).toBe('caller_forbidden');
  }
}

describe('authorizeScope', () => {
  it('returns the configured spelling of a granted scope, whatever case was asked for', () => {
    expect(authorizeScope(config, caller(CALLER_APP_ID), SCOPE_A)).toBe(SCOPE_A);
    expect(authorizeScope(config, caller(CALLER_APP_ID), SCOPE_A.toUpperCase())).toBe(SCOPE_A);
  });

  it('matches the caller app ID case-insensitively', () => {
    expect(authorizeScope(config, caller(CALLER_APP_ID.toUpperCase()), SCOPE_A)).toBe(SCOPE_A);
  });

  it('refuses a served scope that is not granted to the caller', () => {
    refused(() => authorizeScope(config, caller(CALLER_APP_ID), SCOPE_B));
  });

  it('refuses a caller listed with no scopes, and a caller not listed at all (deny by default)', () => {
    refused(() => authorizeScope(config, caller(DENIED_APP_ID), SCOPE_A));
    refused(() => authorizeScope(config, caller('00000000-0000-4000-8000-000000000000'), SCOPE_A));
    refused(() => authorizeScope(config, caller(''), SCOPE_A));
  });

  it('refuses a scope the broker does not serve, with the same description as any refusal', () => {
    const messages = new Set<string>();
    for (const [appId, scope] of [
      [CALLER_APP_ID, 'api://not-served/.default'],
      [CALLER_APP_ID, SCOPE_B],
      [DENIED_APP_ID, SCOPE_A],
    ] as const) {
      try {
        authorizeScope(config, caller(appId), scope);
      } catch (error) {
        messages.add((error as Error).message);
      }
    }
    expect(messages.size).toBe(1);
  });
});

describe('authorizeScope with several caller tenants', () => {
  const multi = makeConfig({
    CALLER_TENANTS: `${TENANT},${OTHER_TENANT}`,
    CALLER_POLICY: JSON.stringify({ [`${TENANT}/${CALLER_APP_ID}`]: [SCOPE_A] }),
  });

  it('grants the app ID in the tenant its entry names', () => {
    expect(authorizeScope(multi, caller(CALLER_APP_ID, TENANT, multi), SCOPE_A)).toBe(SCOPE_A);
  });

  it('does not trust the same app ID coming from another allowed tenant', () => {
    refused(() => authorizeScope(multi, caller(CALLER_APP_ID, OTHER_TENANT, multi), SCOPE_A));
  });
});
