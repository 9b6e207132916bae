/** A valid BrokerConfig for unit tests (two scopes; SCOPE_A is the default), built by the real parser. */
import { type BrokerConfig, parseConfig } from '../../../src/contract/config';

export const FAKE_SCOPE_A = 'api://11111111-1111-1111-1111-111111111111/.default';
export const FAKE_SCOPE_B = 'api://22222222-2222-2222-2222-222222222222/.default';
export const FAKE_CALLER_ID = '33333333-3333-3333-3333-333333333333';

/** `overrides` are broker settings, e.g. `{ TOKEN_MIN_LIFETIME_SECONDS: '60' }`. */
export function fakeConfig(overrides: Record<string, string> = {}): BrokerConfig {
  return parseConfig({
    ENTRA_TENANT_ID: 'aaaaaaaa-aaaa-aaaa-aaaa-aaaaaaaaaaaa',
    ENTRA_CLIENT_ID: 'bbbbbbbb-bbbb-bbbb-bbbb-bbbbbbbbbbbb',
    KEY_VAULT_URL: 'https://vault.example',
    TOKEN_SCOPES: `${FAKE_SCOPE_A},${FAKE_SCOPE_B}`,
    CALLER_AUDIENCES: 'api://entra-token-broker',
    CALLER_POLICY: JSON.stringify({ [FAKE_CALLER_ID]: [FAKE_SCOPE_A] }),
    ...overrides,
  });
}

/**
 * Broker settings as a deployment would have them, with the authority on a closed loopback
 * port, so that nothing beyond 127.0.0.1 is ever contacted.
 */
export const DEPLOYMENT_SETTINGS: Readonly<Record<string, string>> = Object.freeze({
  ENTRA_TENANT_ID: '72f988bf-86f1-41af-91ab-2d7cd011db47',
  ENTRA_AUTHORITY_HOST: 'https://127.0.0.1:9',
  ENTRA_CLIENT_ID: '22222222-2222-2222-2222-222222222222',
  KEY_VAULT_URL: 'https://kv-broker.vault.azure.net',
  TOKEN_SCOPES: 'api://qualys-api/.default',
  CALLER_AUDIENCES: 'api://entra-token-broker',
  CALLER_POLICY: JSON.stringify({ '11111111-1111-1111-1111-111111111111': ['api://qualys-api/.default'] }),
});
