/**
 * The emulator behaves like Azure where the broker depends on it (docs/azure-fidelity.md): caller
 * tokens v1 or v2 per the broker API's accepted version, idtyp only on request, a workload managed
 * identity caller, assignment required, Key Vault paging and Entra's key set. Each test drives the
 * real SDKs or the broker's own caller authentication against the emulator.
 */
import { ManagedIdentityCredential } from '@azure/identity';
import { SecretClient } from '@azure/keyvault-secrets';
import { decodeJwt, decodeProtectedHeader } from 'jose';
import { startEmulator } from '../../../dev/emulator';
import type { RunningEmulator } from '../../../dev/emulator';
import { CallerAuthenticator } from '../../../src/callers/callerAuth';
import { parseConfig } from '../../../src/contract/config';
import { createTlsFetch } from '../../../src/platform/tlsFetch';
import { LogCapture } from '../../support/frontDoorFixture';
import { codeOf } from '../../support/failureOf';
import { httpsJson, withIdentityEnv } from './support';

describe('emulator: Azure fidelity of caller tokens, Key Vault listings and keys', () => {
  let emulator: RunningEmulator;

  beforeAll(async () => {
    emulator = await startEmulator();
  });
  afterAll(async () => {
    await emulator.close();
  });
  afterEach(() => {
    // Back to Entra's defaults for an app created by the deployment steps.
    emulator.configureBrokerApi({ accessTokenVersion: 1, idtypClaim: false, appRoleAssignmentRequired: false });
    emulator.setKeyVaultPaging({ pageSize: 25, emptyPages: 0 });
    emulator.reset();
  });

  function authenticator(): CallerAuthenticator {
    return new CallerAuthenticator({
      config: parseConfig(emulator.brokerSettings()),
      logger: new LogCapture().logger,
      fetch: createTlsFetch(emulator.caPem),
      jwksUri: emulator.jwksUri,
    });
  }

  const mi = () => emulator.callers.find((caller) => caller.name === 'workload-mi')!;

  /** The workload's managed identity token through @azure/identity, as a workload in App Service gets it. */
  async function workloadIdentityToken(resource: string): Promise<string> {
    return withIdentityEnv(emulator, async () => {
      const credential = new ManagedIdentityCredential(mi().clientId, { tlsOptions: { ca: emulator.caPem } });
      return (await credential.getToken(`${resource}/.default`)).token;
    });
  }

  it('v1 access tokens: the broker API keeps the default accepted version, so callers get v1 tokens the broker accepts', async () => {
    const token = await emulator.callerToken('workload-a', 'api://entra-token-broker/.default');
    expect(decodeJwt(token)).toMatchObject({
      iss: `https://sts.windows.net/${emulator.tenantId}/`,
      aud: 'api://entra-token-broker',
      ver: '1.0',
      appid: emulator.callers[0]!.clientId,
    });
    // The trailing-slash spelling of the identifier URI gives that spelling as `aud`.
    const slashed = await emulator.callerToken('workload-a', 'api://entra-token-broker//.default');
    expect(decodeJwt(slashed).aud).toBe('api://entra-token-broker/');
    const auth = authenticator();
    await expect(auth.authenticate(`Bearer ${token}`)).resolves.toMatchObject({ appId: emulator.callers[0]!.clientId });
    await expect(auth.authenticate(`Bearer ${slashed}`)).resolves.toMatchObject({
      appId: emulator.callers[0]!.clientId,
    });
  });

  it('v2 access tokens when the broker API accepts version 2: aud is the app ID, azp names the caller', async () => {
    emulator.configureBrokerApi({ accessTokenVersion: 2 });
    const token = await emulator.callerToken('workload-a', 'api://entra-token-broker/.default');
    expect(decodeJwt(token)).toMatchObject({
      iss: `https://login.microsoftonline.com/${emulator.tenantId}/v2.0`,
      aud: emulator.broker.audience,
      ver: '2.0',
      azp: emulator.callers[0]!.clientId,
    });
    await expect(authenticator().authenticate(`Bearer ${token}`)).resolves.toBeDefined();
  });

  it('a workload managed identity gets a v1 caller token (appid, oid = sub, no idtyp) that the broker accepts', async () => {
    const token = await workloadIdentityToken('api://entra-token-broker');
    const claims = decodeJwt(token);
    expect(claims).toMatchObject({
      iss: `https://sts.windows.net/${emulator.tenantId}/`,
      aud: 'api://entra-token-broker',
      appid: mi().clientId,
      oid: mi().managedIdentity!.principalId,
      sub: mi().managedIdentity!.principalId,
      roles: ['Token.Request'],
    });
    expect(claims.idtyp).toBeUndefined();
    await expect(authenticator().authenticate(`Bearer ${token}`)).resolves.toMatchObject({
      appId: mi().clientId,
      policyKey: mi().clientId,
    });
  });

  it('idtyp is optional: sent only when the broker API asks for it, and a user-shaped token with roles is refused', async () => {
    expect(decodeJwt(await emulator.callerToken('workload-a')).idtyp).toBeUndefined();
    emulator.configureBrokerApi({ idtypClaim: true });
    expect(decodeJwt(await emulator.callerToken('workload-a')).idtyp).toBe('app');

    // A user token with an app role and no idtyp/scp: its sub is a pairwise user subject, not its oid.
    const now = Math.floor(Date.now() / 1000);
    const userShaped = await emulator.signJwt({
      iss: `https://sts.windows.net/${emulator.tenantId}/`,
      aud: 'api://entra-token-broker',
      tid: emulator.tenantId,
      appid: emulator.callers[0]!.clientId,
      oid: crypto.randomUUID(),
      sub: 'l3_roISQU222bULS9yi2k0XpqpOiMz5H3ZACo1GeXA',
      roles: ['Token.Request'],
      iat: now,
      nbf: now,
      exp: now + 600,
      ver: '1.0',
    });
    expect(await codeOf(authenticator().authenticate(`Bearer ${userShaped}`))).toBe('caller_forbidden');
  });

  it('app role assignment required: a caller without an assignment gets no token at all (AADSTS501051)', async () => {
    await expect(emulator.callerToken('workload-norole')).resolves.toMatch(/^eyJ/);
    emulator.configureBrokerApi({ appRoleAssignmentRequired: true });
    const caller = emulator.callers.find((c) => c.name === 'workload-norole')!;
    const refused = await httpsJson(emulator.tokenEndpoint, {
      ca: emulator.caPem,
      form: {
        grant_type: 'client_credentials',
        client_id: caller.clientId,
        client_secret: caller.clientSecret,
        scope: 'api://entra-token-broker/.default',
      },
    });
    expect(refused).toMatchObject({ status: 400, body: { error: 'invalid_grant', error_codes: [501051] } });
    // Callers with the assignment still get theirs, from Entra and from the managed identity endpoint.
    await expect(emulator.callerToken('workload-a')).resolves.toMatch(/^eyJ/);
    await expect(emulator.callerToken('workload-mi')).resolves.toMatch(/^eyJ/);
  });

  it('the managed identity endpoint refuses an identity that is not assigned with 400 {statusCode, message, correlationId}', async () => {
    const url = `${emulator.identityEndpoint}?api-version=2019-08-01&resource=https://vault.azure.net&client_id=${mi().clientId}`;
    const headers = { 'X-IDENTITY-HEADER': emulator.identityHeader };
    expect((await httpsJson(url, { ca: emulator.caPem, headers })).status).toBe(200);
    emulator.setManagedIdentityAssigned(mi().clientId, false);
    try {
      const refused = await httpsJson(url, { ca: emulator.caPem, headers });
      expect(refused.status).toBe(400);
      expect(refused.body).toEqual({
        statusCode: 400,
        message: expect.stringMatching(/No Managed Identity found/),
        correlationId: expect.any(String),
      });
      const unknown = await httpsJson(url.replace(mi().clientId, crypto.randomUUID()), { ca: emulator.caPem, headers });
      expect(unknown.status).toBe(400);
    } finally {
      emulator.setManagedIdentityAssigned(mi().clientId, true);
    }
  });

  it('Key Vault lists versions in pages with a nextLink, also with page size 1 and empty pages, and the SDK reads them all', async () => {
    for (let i = 0; i < 3; i += 1) await emulator.rotate({ activationDelaySeconds: 0 });
    const listVersions = () =>
      withIdentityEnv(emulator, async () => {
        const client = new SecretClient(
          emulator.keyVaultUrl,
          new ManagedIdentityCredential(emulator.managedIdentity.clientId, { tlsOptions: { ca: emulator.caPem } }),
          {
            disableChallengeResourceVerification: true,
            tlsOptions: { ca: emulator.caPem },
            retryOptions: { maxRetries: 0 },
          },
        );
        const versions: string[] = [];
        for await (const properties of client.listPropertiesOfSecretVersions(emulator.broker.credentialName)) {
          versions.push(properties.version!);
        }
        return versions;
      });
    const all = await listVersions();
    expect(all).toHaveLength(4);

    emulator.setKeyVaultPaging({ pageSize: 1, emptyPages: 2 });
    const paged = await listVersions();
    expect([...paged].sort()).toEqual([...all].sort());

    // On the wire: an empty first page with a nextLink carrying $skiptoken.
    const token = await withIdentityEnv(
      emulator,
      async () =>
        (
          await new ManagedIdentityCredential(emulator.managedIdentity.clientId, {
            tlsOptions: { ca: emulator.caPem },
          }).getToken('https://vault.azure.net/.default')
        ).token,
    );
    const first = await httpsJson(
      `${emulator.keyVaultUrl}/secrets/${emulator.broker.credentialName}/versions?api-version=7.5`,
      {
        ca: emulator.caPem,
        headers: { Authorization: `Bearer ${token}` },
      },
    );
    expect(first.body.value).toEqual([]);
    expect(first.body.nextLink).toMatch(/\$skiptoken=/);
    const tooMany = await httpsJson(
      `${emulator.keyVaultUrl}/secrets/${emulator.broker.credentialName}/versions?api-version=7.5&maxresults=26`,
      { ca: emulator.caPem, headers: { Authorization: `Bearer ${token}` } },
    );
    expect(tooMany.status).toBe(400);
  });

  it("JWKS like Entra's: no alg, an issuer on each key, keys of another issuer, a new key published before it signs", async () => {
    const jwks = async () =>
      (await httpsJson(emulator.jwksUri, { ca: emulator.caPem })).body.keys as Record<string, unknown>[];
    const keys = await jwks();
    for (const key of keys) {
      expect(key.alg).toBeUndefined();
      expect(key.issuer).toEqual(expect.stringMatching(/^https:\/\/login\.microsoftonline\.com\//));
    }
    expect(new Set(keys.map((key) => key.issuer)).size).toBe(2);

    const signedBefore = await emulator.callerToken('workload-a');
    const { kid } = await emulator.publishSigningKey();
    expect((await jwks()).map((key) => key.kid)).toContain(kid);
    expect(decodeProtectedHeader(await emulator.callerToken('workload-a')).kid).not.toBe(kid);
    // A broker that fetched the set after the new key was published verifies with it without a refetch.
    const fetches: string[] = [];
    const inner = createTlsFetch(emulator.caPem);
    const auth = new CallerAuthenticator({
      config: parseConfig(emulator.brokerSettings()),
      logger: new LogCapture().logger,
      fetch: async (input, init) => {
        fetches.push(input instanceof Request ? input.url : input.toString());
        return inner(input, init);
      },
      jwksUri: emulator.jwksUri,
    });
    await expect(auth.authenticate(`Bearer ${signedBefore}`)).resolves.toBeDefined();
    await emulator.rollSigningKeys();
    const signedAfter = await emulator.callerToken('workload-a');
    expect(decodeProtectedHeader(signedAfter).kid).toBe(kid);
    await expect(auth.authenticate(`Bearer ${signedAfter}`)).resolves.toBeDefined();
    expect(fetches).toHaveLength(1);
    // The old key stays published after the roll: tokens it signed still verify.
    await expect(authenticator().authenticate(`Bearer ${signedBefore}`)).resolves.toBeDefined();
  });
});
