import type { CallerIdentity } from '../../../src/callers/callerAuth';
import { BrokerError } from '../../../src/contract/errors';
import { authorizeScope } from '../../../src/callers/policy';
import { CALLER_APP_ID, DENIED_APP_ID, makeConfig, SCOPE_A, SCOPE_B, TENANT } from '../../support/frontDoorFixture';

const caller = (appId: string): CallerIdentity => ({
  tenantId: TENANT,
  appId,
  objectId: undefined,
  roles: ['Token.Request'],
  tokenHash: 'abc',
});

const config = makeConfig();

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
