import { ClientSecretCredential, ManagedIdentityCredential } from '@azure/identity';
import { SecretClient } from '@azure/keyvault-secrets';
import { createLocalJWKSet, decodeJwt, jwtVerify } from 'jose';
import { startEmulator } from '../../../dev/emulator';
import type { RunningEmulator } from '../../../dev/emulator';
import { httpsJson, withIdentityEnv } from './support';

const CANARY = 'canary-secret-3f1b7c9e-emulator';

describe('emulator: secret flow with the real SDKs', () => {
  let emulator: RunningEmulator;

  beforeAll(async () => {
    emulator = await startEmulator({ clientSecret: CANARY });
  });
  afterAll(async () => {
    await emulator.close();
  });
  beforeEach(() => emulator.reset());

  function brokerCredential(secret = CANARY): ClientSecretCredential {
    return new ClientSecretCredential(emulator.tenantId, emulator.broker.clientId, secret, {
      authorityHost: emulator.authorityHost,
      disableInstanceDiscovery: true,
      tlsOptions: { ca: emulator.caPem },
    });
  }

  it('ClientSecretCredential gets a v2 app token that jose verifies against the JWKS', async () => {
    const token = await brokerCredential().getToken(emulator.scopes[0]!);
    expect(token.token).toMatch(/^eyJ/);
    const { body: jwks } = await httpsJson(emulator.jwksUri, { ca: emulator.caPem });
    const { payload, protectedHeader } = await jwtVerify(token.token, createLocalJWKSet(jwks as never), {
      issuer: `https://login.microsoftonline.com/${emulator.tenantId}/v2.0`,
      audience: emulator.thirdPartyApi.audience,
      algorithms: ['RS256'],
    });
    expect(protectedHeader.kid).toBe(protectedHeader.x5t);
    expect(payload).toMatchObject({
      tid: emulator.tenantId,
      azp: emulator.broker.clientId,
      appid: emulator.broker.clientId,
      idtyp: 'app',
      ver: '2.0',
      roles: ['Data.Read'],
    });
    expect(typeof payload.oid).toBe('string');
    expect(payload.sub).toBe(payload.oid);
    expect(payload.exp! - payload.iat!).toBe(3599);
    expect(emulator.stats().tokenRequests[emulator.broker.clientId]).toEqual({ [emulator.scopes[0]!]: 1 });
  });

  it('accepts the resource by client ID GUID as well as by identifier URI', async () => {
    const token = await brokerCredential().getToken(`${emulator.thirdPartyApi.audience}/.default`);
    expect(decodeJwt(token.token).aud).toBe(emulator.thirdPartyApi.audience);
  });

  it('the third-party API accepts a token for its audience and refuses others', async () => {
    const good = await brokerCredential().getToken(emulator.scopes[0]!);
    const ok = await fetch(emulator.thirdPartyApi.url, { headers: { Authorization: `Bearer ${good.token}` } });
    expect(ok.status).toBe(200);
    expect(await ok.json()).toMatchObject({ caller: { appId: emulator.broker.clientId } });

    const other = await brokerCredential().getToken(emulator.scopes[1]!);
    const wrongAudience = await fetch(emulator.thirdPartyApi.url, {
      headers: { Authorization: `Bearer ${other.token}` },
    });
    expect(wrongAudience.status).toBe(401);
    expect((await fetch(emulator.thirdPartyApi.url)).status).toBe(401);
  });

  it('answers a wrong secret with invalid_client AADSTS7000215 in Entra shape', async () => {
    const { status, body } = await httpsJson(emulator.tokenEndpoint, {
      ca: emulator.caPem,
      form: {
        grant_type: 'client_credentials',
        client_id: emulator.broker.clientId,
        client_secret: 'nope',
        scope: emulator.scopes[0]!,
      },
    });
    expect(status).toBe(401);
    expect(body).toMatchObject({ error: 'invalid_client', error_codes: [7000215] });
    expect(body.error_description).toMatch(/^AADSTS7000215: /);
    expect(typeof body.trace_id).toBe('string');
    expect(typeof body.correlation_id).toBe('string');
    expect(typeof body.timestamp).toBe('string');
    await expect(brokerCredential('wrong').getToken(emulator.scopes[0]!)).rejects.toThrow(/AADSTS7000215/);
  });

  it.each([
    ['unknown client', { client_id: '00000000-0000-0000-0000-000000000001' }, 400, 'unauthorized_client', 700016],
    ['unknown resource', { scope: 'api://nobody/.default' }, 400, 'invalid_resource', 500011],
    ['scope without /.default', { scope: 'api://entra-token-broker/Token.Request' }, 400, 'invalid_scope', 1002012],
    ['two scopes', { scope: 'a/.default b/.default' }, 400, 'invalid_scope', 70011],
    ['missing scope', { scope: '' }, 400, 'invalid_request', 900144],
    ['no secret', { client_secret: undefined }, 401, 'invalid_client', 7000218],
    ['wrong grant', { grant_type: 'password' }, 400, 'unsupported_grant_type', 70003],
  ])('answers %s with Entra error', async (_name, override, status, error, code) => {
    const form: Record<string, string | undefined> = {
      grant_type: 'client_credentials',
      client_id: emulator.broker.clientId,
      client_secret: CANARY,
      scope: emulator.scopes[0],
      ...override,
    };
    const res = await httpsJson(emulator.tokenEndpoint, { ca: emulator.caPem, form });
    expect(res.status).toBe(status);
    expect(res.body).toMatchObject({ error, error_codes: [code] });
    expect(res.body.error_description).toMatch(new RegExp(`^AADSTS${code}: `));
    expect(JSON.stringify(res.body)).not.toContain(CANARY);
  });

  it('answers an unknown tenant with AADSTS90002', async () => {
    const res = await httpsJson(`${emulator.url}/11111111-2222-3333-4444-555555555555/oauth2/v2.0/token`, {
      ca: emulator.caPem,
      form: {
        grant_type: 'client_credentials',
        client_id: emulator.broker.clientId,
        client_secret: CANARY,
        scope: emulator.scopes[0]!,
      },
    });
    expect(res.status).toBe(400);
    expect(res.body).toMatchObject({ error: 'invalid_request', error_codes: [90002] });
  });

  it('ManagedIdentityCredential + SecretClient read the secret with its attributes', async () => {
    await withIdentityEnv(emulator, async () => {
      const credential = new ManagedIdentityCredential(emulator.managedIdentity.clientId, {
        tlsOptions: { ca: emulator.caPem },
      });
      const client = new SecretClient(emulator.keyVaultUrl, credential, {
        disableChallengeResourceVerification: true,
        tlsOptions: { ca: emulator.caPem },
      });
      const secret = await client.getSecret(emulator.broker.credentialName);
      expect(secret.value).toBe(CANARY);
      expect(secret.properties.enabled).toBe(true);
      expect(secret.properties.version).toMatch(/^[0-9a-f]{32}$/);
      expect(secret.properties.expiresOn!.getTime()).toBeGreaterThan(Date.now() + 89 * 86400_000);
      expect(secret.properties.createdOn).toBeInstanceOf(Date);
      expect(secret.properties.recoveryLevel).toBe('Recoverable+Purgeable');

      const byVersion = await client.getSecret(emulator.broker.credentialName, { version: secret.properties.version! });
      expect(byVersion.value).toBe(CANARY);
      const versions = [];
      for await (const v of client.listPropertiesOfSecretVersions(emulator.broker.credentialName)) versions.push(v);
      expect(versions.map((v) => v.version)).toEqual([secret.properties.version]);
      expect(emulator.stats().keyVaultReads).toEqual({ [emulator.broker.credentialName]: 2 });
      expect(emulator.stats().managedIdentityRequests).toBe(1);
    });
  });

  it('Key Vault answers SecretNotFound, SecretDisabled and Forbidden as the real one does', async () => {
    await withIdentityEnv(emulator, async () => {
      const client = new SecretClient(
        emulator.keyVaultUrl,
        new ManagedIdentityCredential(emulator.managedIdentity.clientId, { tlsOptions: { ca: emulator.caPem } }),
        { disableChallengeResourceVerification: true, tlsOptions: { ca: emulator.caPem } },
      );
      await expect(client.getSecret('no-such-secret')).rejects.toMatchObject({
        statusCode: 404,
        code: 'SecretNotFound',
      });

      const { version } = await emulator.rotate({});
      emulator.setSecretEnabled(version, false);
      const disabled = await client.getSecret(emulator.broker.credentialName).catch((e: unknown) => e);
      expect(disabled).toMatchObject({ statusCode: 403, code: 'Forbidden' });
      expect((disabled as Error).message).toContain('Operation get is not allowed on a disabled secret.');
      expect(JSON.stringify((disabled as { details?: unknown }).details)).toContain('SecretDisabled');
    });

    // A caller's own Key Vault token is genuine but its identity has no role on the vault.
    const callerToken = await emulator.callerToken(emulator.callers[0]!, 'https://vault.azure.net/.default');
    const forbidden = await httpsJson(
      `${emulator.keyVaultUrl}/secrets/${emulator.broker.credentialName}?api-version=7.5`,
      {
        ca: emulator.caPem,
        headers: { Authorization: `Bearer ${callerToken}` },
      },
    );
    expect(forbidden.status).toBe(403);
    expect(forbidden.body.error.code).toBe('Forbidden');

    const challenge = await httpsJson(`${emulator.keyVaultUrl}/secrets/x?api-version=7.5`, { ca: emulator.caPem });
    expect(challenge.status).toBe(401);
    expect(challenge.headers['www-authenticate']).toBe(
      `Bearer authorization="${emulator.authorityHost}/${emulator.tenantId}", resource="https://vault.azure.net"`,
    );
  });
});
