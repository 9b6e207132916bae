import type { EmulatorProcessInfo } from '../../../dev/emulatorProcess';
import { stackFileProblems } from '../../../dev/stackFile';
import { brokerEnvironment, buildStackFile, callerTokenScope } from '../../../dev/stackSettings';

const tenant = '11111111-1111-1111-1111-111111111111';
const scope = 'api://22222222-2222-2222-2222-222222222222/.default';
const allowedId = '33333333-3333-3333-3333-333333333333';
const deniedId = '44444444-4444-4444-4444-444444444444';

const info: EmulatorProcessInfo = {
  url: 'https://127.0.0.1:9443',
  tenantId: tenant,
  authorityHost: 'https://127.0.0.1:9443',
  tokenEndpoint: `https://127.0.0.1:9443/${tenant}/oauth2/v2.0/token`,
  jwksUri: `https://127.0.0.1:9443/${tenant}/discovery/v2.0/keys`,
  keyVaultUrl: 'https://127.0.0.1:9443',
  controlUrl: 'https://127.0.0.1:9443/_emulator',
  caCertPath: '/repo/.local/ca.pem',
  broker: {
    clientId: '55555555-5555-5555-5555-555555555555',
    credentialName: 'entra-client-secret',
    credentialKind: 'secret',
    audience: '66666666-6666-6666-6666-666666666666',
    audienceUri: 'api://entra-token-broker',
  },
  scopes: [scope],
  callers: [
    {
      name: 'workload-a',
      clientId: allowedId,
      clientSecret: 's1',
      audience: '66666666-6666-6666-6666-666666666666',
      allowedScopes: [scope],
      roles: ['Token.Request'],
    },
    {
      name: 'workload-denied',
      clientId: deniedId,
      clientSecret: 's2',
      audience: '66666666-6666-6666-6666-666666666666',
      allowedScopes: [],
      roles: ['Token.Request'],
    },
  ],
  thirdPartyApi: { url: 'http://127.0.0.1:9080/api/data', audience: '22222222-2222-2222-2222-222222222222' },
  brokerSettings: {
    ENTRA_TENANT_ID: tenant,
    TOKEN_SCOPES: scope,
    CLIENT_CREDENTIAL_KIND: 'secret',
    CALLER_POLICY: JSON.stringify({ [allowedId]: [scope], [deniedId]: [] }),
    IDENTITY_ENDPOINT: 'https://127.0.0.1:9443/msi/token',
    IDENTITY_HEADER: 'h',
    AZURE_CLIENT_ID: '77777777-7777-7777-7777-777777777777',
  },
};

describe('npm start: broker environment', () => {
  it("holds the emulator settings, overridden by broker settings from npm start's environment, and nothing else", () => {
    const env = brokerEnvironment(
      info.brokerSettings,
      {
        WARMUP_SCHEDULE: '*/10 * * * * *',
        CLIENT_CREDENTIAL_KIND: 'certificate',
        HOME: '/root',
        NODE_OPTIONS: '--inspect',
      },
      { caCertPath: '/repo/.local/ca.pem', port: 7071 },
    );
    expect(env).toEqual({
      ...info.brokerSettings,
      WARMUP_SCHEDULE: '*/10 * * * * *',
      CLIENT_CREDENTIAL_KIND: 'certificate',
      NODE_EXTRA_CA_CERTS: '/repo/.local/ca.pem',
      PORT: '7071',
    });
  });
});

describe('stack.json (docs/development.md)', () => {
  const env = brokerEnvironment(info.brokerSettings, {}, { caCertPath: info.caCertPath, port: 7071 });
  const stack = buildStackFile(info, env, 'http://127.0.0.1:7071', '.local/ca.pem', 'func');

  it('is built in exactly the contract shape, with an allowed and a denied caller', () => {
    expect(stackFileProblems(stack)).toEqual([]);
    expect(stack.caCertFile).toBe('.local/ca.pem');
    expect(stack.callers.map((c) => [c.name, c.allowedScopes])).toEqual([
      ['workload-a', [scope]],
      ['workload-denied', []],
    ]);
    expect(Object.keys(stack.callers[0]!)).toEqual(['name', 'clientId', 'clientSecret', 'audience', 'allowedScopes']);
  });

  it("reports allowed scopes from the broker's effective CALLER_POLICY", () => {
    const overridden = brokerEnvironment(
      info.brokerSettings,
      { CALLER_POLICY: JSON.stringify({ [allowedId]: [] }) },
      { caCertPath: 'x', port: 1 },
    );
    const rebuilt = buildStackFile(info, overridden, 'http://127.0.0.1:7071', '.local/ca.pem', 'dev-host');
    expect(rebuilt.callers.every((c) => c.allowedScopes.length === 0)).toBe(true);
    expect(stackFileProblems(rebuilt)).toContain('callers must hold one caller allowed the default scope');
  });

  it('finds missing, extra and malformed fields', () => {
    const broken = JSON.parse(JSON.stringify(stack)) as {
      extra?: number;
      control?: unknown;
      entra: { tenantId: string };
      broker: { url: string; host: string };
    };
    delete broken.control;
    broken.extra = 1;
    broken.entra.tenantId = 'not-a-guid';
    broken.broker.url = 'http://example.com:7071';
    broken.broker.host = 'iis';
    expect(stackFileProblems(broken)).toEqual(
      expect.arrayContaining([
        'stack has unexpected extra',
        'stack lacks control',
        'entra.tenantId must be a GUID',
        'broker.url must be an http://127.0.0.1 URL',
        'broker.host must be "func" or "dev-host"',
      ]),
    );
  });

  it("asks Entra for a caller token for the caller's audience with /.default", () => {
    expect(callerTokenScope({ audience: 'api://entra-token-broker' })).toBe('api://entra-token-broker/.default');
    expect(callerTokenScope({ audience: 'api://x/.default' })).toBe('api://x/.default');
  });
});
