import { ClientAssertionCredential } from '@azure/identity';
import { decodeJwt } from 'jose';
import { startEmulator } from '../../../dev/emulator';
import type { RunningEmulator } from '../../../dev/emulator';
import { httpsJson, miCredential, sdkOptions, withIdentityEnv } from './support';

// One emulator per file: MSAL pins the first managed identity source (IDENTITY_ENDPOINT, header and
// TLS settings) in a process-wide static, so a second emulator's endpoint would never be called.

describe('emulator: federated credential ', () => {
  let emulator: RunningEmulator;

  beforeAll(async () => {
    emulator = await startEmulator({ credentialKind: 'federated', rejectReplayedAssertions: false });
  });
  afterAll(async () => {
    await emulator.close();
  });

  it('ClientAssertionCredential with the managed identity token for api://AzureADTokenExchange gets a token', async () => {
    await withIdentityEnv(emulator, async () => {
      const mi = miCredential(emulator);
      const credential = new ClientAssertionCredential(
        emulator.tenantId,
        emulator.broker.clientId,
        async () => (await mi.getToken('api://AzureADTokenExchange/.default')).token,
        sdkOptions(emulator),
      );
      const token = await credential.getToken(emulator.scopes[0]!);
      expect(decodeJwt(token.token)).toMatchObject({
        aud: emulator.thirdPartyApi.audience,
        azp: emulator.broker.clientId,
      });
      await expect(credential.getToken(emulator.scopes[1]!)).resolves.toMatchObject({ token: expect.any(String) });
    });
    expect(emulator.brokerSettings().CLIENT_CREDENTIAL_KIND).toBe('federated');
  });

  it('answers AADSTS70021 when no federated credential matches the assertion', async () => {
    const nowSeconds = Math.floor(Date.now() / 1000);
    const claims = {
      iss: `https://login.microsoftonline.com/${emulator.tenantId}/v2.0`,
      sub: emulator.managedIdentity.principalId,
      aud: 'api://AzureADTokenExchange',
      iat: nowSeconds,
      nbf: nowSeconds,
      exp: nowSeconds + 600,
    };
    const send = async (override: Record<string, unknown>) =>
      httpsJson(emulator.tokenEndpoint, {
        ca: emulator.caPem,
        form: {
          grant_type: 'client_credentials',
          client_id: emulator.broker.clientId,
          scope: emulator.scopes[0]!,
          client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
          client_assertion: await emulator.signJwt({ ...claims, ...override }),
        },
      });
    expect((await send({})).status).toBe(200);
    for (const override of [
      { sub: crypto.randomUUID() },
      { aud: 'https://vault.azure.net' },
      { iss: 'https://sts.windows.net/x/' },
    ]) {
      const res = await send(override);
      expect(res.status).toBe(400);
      expect(res.body.error_codes).toEqual([70021]);
      expect(res.body.error_description).toMatch(/^AADSTS70021: /);
    }
    expect(
      (await send({ exp: nowSeconds - 600, iat: nowSeconds - 1200, nbf: nowSeconds - 1200 })).body.error_codes,
    ).toEqual([700024]);
    await expect(emulator.rotate({})).rejects.toThrow(/nothing to rotate/);
  });

  it('refuses a replayed assertion jti when rejectReplayedAssertions is on', async () => {
    const strict = await startEmulator({ credentialKind: 'federated', rejectReplayedAssertions: true });
    try {
      const nowSeconds = Math.floor(Date.now() / 1000);
      const assertion = await strict.signJwt({
        iss: `https://login.microsoftonline.com/${strict.tenantId}/v2.0`,
        sub: strict.managedIdentity.principalId,
        aud: 'api://AzureADTokenExchange',
        jti: 'one-time',
        iat: nowSeconds,
        exp: nowSeconds + 600,
      });
      const send = () =>
        httpsJson(strict.tokenEndpoint, {
          ca: strict.caPem,
          form: {
            grant_type: 'client_credentials',
            client_id: strict.broker.clientId,
            scope: strict.scopes[0]!,
            client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
            client_assertion: assertion,
          },
        });
      expect((await send()).status).toBe(200);
      const replay = await send();
      expect(replay.status).toBe(401);
      expect(replay.body.error).toBe('invalid_client');
    } finally {
      await strict.close();
    }
  });
});
