import type { CallerIdentity } from './callerAuth';
import type { BrokerConfig } from '../contract/config';
import { BrokerError } from '../contract/errors';
import { scopeKey } from '../contract/scope';

/**
 * The scope a caller gets, in its configured (canonical) spelling, if CALLER_POLICY grants it.
 * Deny by default: a caller missing from the policy, a scope the broker does not serve and a scope
 * not granted to this caller are refused alike, with one description, so that a caller cannot probe
 * which scopes exist. The scope must already be well formed (`describeScopeProblem` finds nothing wrong with it).
 * @throws BrokerError `caller_forbidden`.
 */
export function authorizeScope(config: BrokerConfig, caller: CallerIdentity, scope: string): string {
  const key = scopeKey(scope);
  const served = config.tokenScopesByKey.get(key);
  const granted = config.callerPolicy.get(caller.appId.toLowerCase());
  if (served === undefined || granted === undefined || !granted.has(key)) {
    throw new BrokerError('caller_forbidden', 'The caller is not allowed a token for this scope.');
  }
  return served;
}
