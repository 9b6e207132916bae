import { BROKER_SETTING_NAMES, parseConfig, type SettingsSource } from '../../../src/contract/config';
import { BrokerError } from '../../../src/contract/errors';

const CALLER = '11111111-1111-1111-1111-111111111111';
const valid: SettingsSource = {
  ENTRA_TENANT_ID: '72F988BF-86F1-41AF-91AB-2D7CD011DB47',
  ENTRA_CLIENT_ID: '22222222-2222-2222-2222-222222222222',
  KEY_VAULT_URL: 'https://kv-broker.vault.azure.net/',
  TOKEN_SCOPES: 'api://qualys-api/.default, api://other/.default',
  CALLER_AUDIENCES: 'api://entra-token-broker',
  CALLER_POLICY: JSON.stringify({ [CALLER]: ['api://qualys-api/.default'] }),
};

function problemOf(overrides: SettingsSource): string {
  try {
    parseConfig({ ...valid, ...overrides });
  } catch (error) {
    expect(error).toBeInstanceOf(BrokerError);
    expect((error as BrokerError).code).toBe('config_invalid');
    return (error as BrokerError).message;
  }
  throw new Error('expected the settings to be refused');
}

describe('parseConfig', () => {
  it('parses a minimal valid configuration with the documented defaults', () => {
    const config = parseConfig(valid);
    expect(config.tenantId).toBe('72f988bf-86f1-41af-91ab-2d7cd011db47');
    expect(config.authorityHost).toBe('https://login.microsoftonline.com');
    expect(config.keyVaultUrl).toBe('https://kv-broker.vault.azure.net');
    expect(config.credentialName).toBe('entra-client-secret');
    expect(config.credentialKind).toBe('secret');
    expect(config.tokenScopes).toEqual(['api://qualys-api/.default', 'api://other/.default']);
    expect(config.defaultScope).toBe('api://qualys-api/.default');
    expect(config.callerTenants).toEqual([config.tenantId]);
    expect(config.callerRequiredRole).toBe('Token.Request');
    expect(config.callerPolicy.get(CALLER)).toEqual(new Set(['api://qualys-api/.default']));
    expect(config.tokenMinLifetimeSeconds).toBe(300);
    expect(config.callerRateLimitPerMinute).toBe(600);
    expect(config.warmupSchedule).toBe('0 */5 * * * *');
    expect(config.secretExpiryWarningDays).toEqual([30, 14, 7, 3, 1]);
    expect(config.alertWebhookUrl).toBeUndefined();
    expect(Object.isFrozen(config)).toBe(true);
  });

  it('treats an empty CALLER_REQUIRED_ROLE as "no role required"', () => {
    expect(parseConfig({ ...valid, CALLER_REQUIRED_ROLE: '' }).callerRequiredRole).toBeUndefined();
  });

  it('sorts warning days from the largest and drops repeats', () => {
    expect(parseConfig({ ...valid, SECRET_EXPIRY_WARNING_DAYS: '7,30,7,1' }).secretExpiryWarningDays).toEqual([
      30, 7, 1,
    ]);
  });

  it.each([
    [{ ENTRA_TENANT_ID: undefined }, 'ENTRA_TENANT_ID is required'],
    [{ ENTRA_TENANT_ID: 'contoso.onmicrosoft.com' }, 'ENTRA_TENANT_ID must be a GUID'],
    [{ ENTRA_CLIENT_ID: '' }, 'ENTRA_CLIENT_ID is required'],
    [{ KEY_VAULT_URL: 'http://kv.vault.azure.net' }, 'KEY_VAULT_URL must use https://'],
    [{ KEY_VAULT_URL: 'not a url' }, 'KEY_VAULT_URL must be an absolute https:// URL'],
    [{ ENTRA_AUTHORITY_HOST: 'https://login.microsoftonline.com/tenant' }, 'ENTRA_AUTHORITY_HOST must be a host only'],
    [{ CLIENT_CREDENTIAL_KIND: 'password' }, 'CLIENT_CREDENTIAL_KIND must be one of'],
    [{ CLIENT_CREDENTIAL_NAME: 'bad_name!' }, 'CLIENT_CREDENTIAL_NAME must be a Key Vault object name'],
    [{ TOKEN_SCOPES: ' , ' }, 'TOKEN_SCOPES must hold at least one'],
    [{ TOKEN_SCOPES: 'api://qualys-api/read' }, 'TOKEN_SCOPES entry 1 must be a client-credentials scope'],
    [{ TOKEN_SCOPES: 'api://a/.default,API://A/.default' }, 'TOKEN_SCOPES entry 2 repeats'],
    [{ CALLER_AUDIENCES: '' }, 'CALLER_AUDIENCES is required'],
    [{ CALLER_AUDIENCES: ' , ' }, 'CALLER_AUDIENCES must hold at least one'],
    [{ CALLER_TENANTS: 'common' }, 'CALLER_TENANTS must be a GUID'],
    [{ CALLER_POLICY: undefined }, 'CALLER_POLICY is required'],
    [{ CALLER_POLICY: '{not json' }, 'not valid JSON'],
    [{ CALLER_POLICY: '[]' }, 'CALLER_POLICY must be a JSON object'],
    [{ CALLER_POLICY: JSON.stringify({ '*': ['api://qualys-api/.default'] }) }, 'must not use "*" as a caller'],
    [{ CALLER_POLICY: JSON.stringify({ [CALLER]: ['*'] }) }, 'must not use "*" as a scope'],
    [{ CALLER_POLICY: JSON.stringify({ [CALLER]: 'api://qualys-api/.default' }) }, 'values must be arrays'],
    [{ CALLER_POLICY: JSON.stringify({ [CALLER]: ['api://unknown/.default'] }) }, 'not in TOKEN_SCOPES'],
    [{ CALLER_POLICY: JSON.stringify({ workload: [] }) }, 'keys must be caller app IDs'],
    [{ TOKEN_MIN_LIFETIME_SECONDS: '-1' }, 'TOKEN_MIN_LIFETIME_SECONDS must be a whole number'],
    [{ TOKEN_MIN_LIFETIME_SECONDS: '5m' }, 'TOKEN_MIN_LIFETIME_SECONDS must be a whole number'],
    [{ CALLER_RATE_LIMIT_PER_MINUTE: '0' }, 'CALLER_RATE_LIMIT_PER_MINUTE must be a whole number'],
    [{ WARMUP_SCHEDULE: '*/5 * * * *' }, 'WARMUP_SCHEDULE must be an NCRONTAB expression with six fields'],
    [{ WARMUP_SCHEDULE: '0 */5 * * * banana' }, 'WARMUP_SCHEDULE is not a valid NCRONTAB'],
    [{ SECRET_EXPIRY_WARNING_DAYS: '30,soon' }, 'SECRET_EXPIRY_WARNING_DAYS must be a comma-separated list'],
    [{ ALERT_WEBHOOK_URL: 'http://hooks.example.com/alert' }, 'ALERT_WEBHOOK_URL must use https://'],
    [{ AZURE_CLIENT_ID: 'my-identity' }, 'AZURE_CLIENT_ID must be a GUID'],
  ])('refuses %j naming the setting', (overrides, expected) => {
    expect(problemOf(overrides)).toContain(expected);
  });

  it('lists every wrong setting in one message', () => {
    const message = problemOf({ ENTRA_TENANT_ID: undefined, TOKEN_SCOPES: undefined });
    expect(message).toContain('2 settings are wrong');
    expect(message).toContain('ENTRA_TENANT_ID');
    expect(message).toContain('TOKEN_SCOPES');
  });

  it('never echoes a setting value, such as a webhook URL holding a token', () => {
    const secretish = 'http://hooks.example.com/services/T000/B000/XXXXSECRETXXXX';
    expect(problemOf({ ALERT_WEBHOOK_URL: secretish })).not.toContain('XXXXSECRETXXXX');
    expect(problemOf({ CALLER_POLICY: '{"oops": "XXXXSECRETXXXX"' })).not.toContain('XXXXSECRETXXXX');
  });
});

describe('local.settings.sample.json', () => {
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- a JSON file at the repo root
  const sample = require('../../../local.settings.sample.json') as { Values: Record<string, string> };

  it('holds every documented setting', () => {
    expect(Object.keys(sample.Values)).toEqual(expect.arrayContaining([...BROKER_SETTING_NAMES]));
  });

  it('is a configuration the broker accepts as it is', () => {
    expect(() => parseConfig(sample.Values)).not.toThrow();
  });
});
