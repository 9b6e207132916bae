import { ClientSecretCredential, ManagedIdentityCredential } from '@azure/identity';
import { SecretClient } from '@azure/keyvault-secrets';
import { decodeJwt, decodeProtectedHeader } from 'jose';
import { parseConfig } from '../../../src/contract/config';
import { startEmulator } from '../../../dev/emulator';
import type { RunningEmulator } from '../../../dev/emulator';
import { httpsJson, withIdentityEnv } from './support';

const DAY_MS = 86_400_000;

describe('emulator: control API, faults, rotation and stats', () => {
  let emulator: RunningEmulator;
  let clockMs = Date.now();

  beforeAll(async () => {
    emulator = await startEmulator({ now: () => clockMs, secretExpiresInDays: 30, refreshInSeconds: 1234 });
  });
  afterAll(async () => {
    await emulator.close();
  });
  beforeEach(() => {
    clockMs = Date.now();
    emulator.reset();
  });

  const tokenForm = (secret: string, scope?: string): Record<string, string> => ({
    grant_type: 'client_credentials',
    client_id: emulator.broker.clientId,
    client_secret: secret,
    scope: scope ?? emulator.scopes[0]!,
  });

  function secretClient(): SecretClient {
    const credential = new ManagedIdentityCredential(emulator.managedIdentity.clientId, {
      tlsOptions: { ca: emulator.caPem },
    });
    return new SecretClient(emulator.keyVaultUrl, credential, {
      disableChallengeResourceVerification: true,
      tlsOptions: { ca: emulator.caPem },
      retryOptions: { maxRetries: 0 },
    });
  }

  /** A new, valid secret version: tests must not depend on what earlier tests revoked. */
  async function freshSecret(): Promise<string> {
    await emulator.rotate({});
    return currentSecret();
  }

  async function currentSecret(version?: string): Promise<string> {
    return withIdentityEnv(emulator, async () => {
      const secret = await secretClient().getSecret(emulator.broker.credentialName, version ? { version } : {});
      return secret.value!;
    });
  }

  it('brokerSettings() is a valid broker configuration (the settings table in README.md)', () => {
    const settings = emulator.brokerSettings();
    const config = parseConfig(settings);
    expect(config.tenantId).toBe(emulator.tenantId);
    expect(config.clientId).toBe(emulator.broker.clientId);
    expect(config.authorityHost).toBe(emulator.authorityHost);
    expect(config.tokenScopes).toEqual(emulator.scopes);
    expect(config.callerAudiences).toContain(emulator.broker.audience);
    expect(config.managedIdentityClientId).toBe(emulator.managedIdentity.clientId);
    expect(settings.IDENTITY_ENDPOINT).toBe(emulator.identityEndpoint);
  });

  it('issues caller tokens with the app role only to callers that have it', async () => {
    const withRole = decodeJwt(await emulator.callerToken('workload-a'));
    expect(withRole).toMatchObject({ aud: emulator.broker.audience, roles: ['Token.Request'], idtyp: 'app' });
    expect(withRole.azp).toBe(emulator.callers[0]!.clientId);
    const noRole = decodeJwt(await emulator.callerToken('workload-norole'));
    expect(noRole.roles).toBeUndefined();
    expect(emulator.stats().tokenRequests[emulator.callers[0]!.clientId]).toEqual({
      'api://entra-token-broker/.default': 1,
    });
  });

  it('a status fault answers the next `count` token requests with that status and Retry-After', async () => {
    const secret = await freshSecret();
    emulator.setFault({ target: 'token', mode: 'status', status: 429, retryAfter: 7, count: 2 });
    for (let i = 0; i < 2; i++) {
      const res = await httpsJson(emulator.tokenEndpoint, { ca: emulator.caPem, form: tokenForm(secret) });
      expect(res.status).toBe(429);
      expect(res.headers['retry-after']).toBe('7');
      expect(res.body.error_description).toMatch(/^AADSTS\d+: /);
    }
    const ok = await httpsJson(emulator.tokenEndpoint, { ca: emulator.caPem, form: tokenForm(secret) });
    expect(ok.status).toBe(200);
    expect(ok.body).toMatchObject({ token_type: 'Bearer', expires_in: 3599, ext_expires_in: 3599, refresh_in: 1234 });
    expect(emulator.stats().tokenRequests[emulator.broker.clientId]![emulator.scopes[0]!]).toBe(3);
  });

  it('a fault with clientId hits only that client, and callerToken() is never faulted', async () => {
    const secret = await freshSecret();
    emulator.setFault({ target: 'token', mode: 'status', status: 503, clientId: emulator.broker.clientId, count: 1 });
    emulator.setFault({ target: 'token', mode: 'status', status: 500, clientId: emulator.callers[1]!.clientId });
    await expect(emulator.callerToken('workload-a')).resolves.toMatch(/^eyJ/);
    await expect(emulator.callerToken('workload-denied')).resolves.toMatch(/^eyJ/);
    const caller = emulator.callers[1]!;
    const callerForm = {
      ...tokenForm(caller.clientSecret, 'api://entra-token-broker/.default'),
      client_id: caller.clientId,
    };
    expect((await httpsJson(emulator.tokenEndpoint, { ca: emulator.caPem, form: callerForm })).status).toBe(500);
    expect((await httpsJson(emulator.tokenEndpoint, { ca: emulator.caPem, form: tokenForm(secret) })).status).toBe(503);
    expect((await httpsJson(emulator.tokenEndpoint, { ca: emulator.caPem, form: tokenForm(secret) })).status).toBe(200);
  });

  it('a malformed fault answers 200 with HTML, truncated JSON or a body without a token', async () => {
    const secret = await freshSecret();
    emulator.setFault({ target: 'token', mode: 'malformed', count: 1 });
    const html = await httpsJson(emulator.tokenEndpoint, { ca: emulator.caPem, form: tokenForm(secret) });
    expect(html.status).toBe(200);
    expect(html.headers['content-type']).toMatch(/text\/html/);
    emulator.setFault({ target: 'token', mode: 'malformed', malformedBody: 'no-token', count: 1 });
    const noToken = await httpsJson(emulator.tokenEndpoint, { ca: emulator.caPem, form: tokenForm(secret) });
    expect(noToken.body).toEqual({ token_type: 'Bearer', expires_in: 3599, ext_expires_in: 3599 });
    emulator.setFault({ target: 'jwks', mode: 'malformed', count: 1 });
    const jwks = await httpsJson(emulator.jwksUri, { ca: emulator.caPem });
    expect(jwks.status).toBe(200);
    expect(jwks.body).toBeUndefined();
    expect((await httpsJson(emulator.jwksUri, { ca: emulator.caPem })).body.keys).toHaveLength(1);
  });

  it('a hang fault holds the request until the faults are cleared', async () => {
    const secret = await freshSecret();
    emulator.setFault({ target: 'token', mode: 'hang' });
    const pending = httpsJson(emulator.tokenEndpoint, { ca: emulator.caPem, form: tokenForm(secret) });
    let settled = false;
    void pending.then(
      () => (settled = true),
      () => (settled = true),
    );
    while (!emulator.stats().tokenRequests[emulator.broker.clientId]) await new Promise((r) => setTimeout(r, 10));
    await new Promise((r) => setTimeout(r, 100));
    expect(settled).toBe(false);
    emulator.clearFaults();
    await expect(pending).rejects.toThrow();
    const ok = await httpsJson(emulator.tokenEndpoint, { ca: emulator.caPem, form: tokenForm(secret) });
    expect(ok.status).toBe(200);
  });

  it('Key Vault and managed identity faults reach the SDKs', async () => {
    emulator.setFault({ target: 'keyvault', mode: 'status', status: 503, retryAfter: 1, count: 1 });
    await expect(currentSecret()).rejects.toMatchObject({ statusCode: 503 });
    await expect(currentSecret()).resolves.toEqual(expect.any(String));

    const msiUrl = `${emulator.identityEndpoint}?api-version=2019-08-01&resource=https://vault.azure.net`;
    const msiHeaders = { 'X-IDENTITY-HEADER': emulator.identityHeader };
    emulator.setFault({ target: 'msi', mode: 'status', status: 500, retryAfter: 2, count: 1 });
    const failed = await httpsJson(msiUrl, { ca: emulator.caPem, headers: msiHeaders });
    expect(failed.status).toBe(500);
    expect(failed.headers['retry-after']).toBe('2');
    const answered = await httpsJson(msiUrl, { ca: emulator.caPem, headers: msiHeaders });
    expect(answered.status).toBe(200);
    expect(answered.body).toMatchObject({ resource: 'https://vault.azure.net', token_type: 'Bearer' });
    expect(answered.body.expires_on).toMatch(/^\d+$/);

    // MSAL keeps managed identity tokens in a process-wide cache: use an audience not fetched before.
    emulator.setFault({ target: 'msi', mode: 'status', status: 400, count: 1 });
    await withIdentityEnv(emulator, async () => {
      const credential = new ManagedIdentityCredential(emulator.managedIdentity.clientId, {
        tlsOptions: { ca: emulator.caPem },
      });
      await expect(credential.getToken('api://AzureADTokenExchange/.default')).rejects.toThrow();
      const token = await credential.getToken('api://AzureADTokenExchange/.default');
      expect(decodeJwt(token.token)).toMatchObject({
        aud: 'api://AzureADTokenExchange',
        sub: emulator.managedIdentity.principalId,
        iss: `https://login.microsoftonline.com/${emulator.tenantId}/v2.0`,
      });
    });
    expect(emulator.stats().managedIdentityRequests).toBeGreaterThanOrEqual(4);
  });

  it('rotate with revokePrevious registers a new secret version and Entra refuses the old one', async () => {
    const oldSecret = await freshSecret();
    const { version } = await emulator.rotate({ revokePrevious: true, expiresInDays: 60 });
    const newSecret = await currentSecret();
    expect(newSecret).not.toBe(oldSecret);
    expect(await currentSecret(version)).toBe(newSecret);

    const refused = await httpsJson(emulator.tokenEndpoint, { ca: emulator.caPem, form: tokenForm(oldSecret) });
    expect(refused.body.error_codes).toEqual([7000215]);
    const credential = new ClientSecretCredential(emulator.tenantId, emulator.broker.clientId, newSecret, {
      authorityHost: emulator.authorityHost,
      disableInstanceDiscovery: true,
      tlsOptions: { ca: emulator.caPem },
    });
    await expect(credential.getToken(emulator.scopes[0]!)).resolves.toMatchObject({ token: expect.any(String) });
  });

  it('rotate with expiresInDays null stores a secret without an expiry that Entra never expires', async () => {
    const { version } = await emulator.rotate({ expiresInDays: null });
    const properties = await withIdentityEnv(emulator, async () => {
      const secret = await secretClient().getSecret(emulator.broker.credentialName, { version });
      return secret.properties;
    });
    expect(properties.expiresOn).toBeUndefined();
    const secret = await currentSecret(version);
    clockMs = Date.now() + 5000 * DAY_MS;
    const answer = await httpsJson(emulator.tokenEndpoint, { ca: emulator.caPem, form: tokenForm(secret) });
    expect(answer.status).toBe(200);
  });

  it('an expired secret (by the injected clock, or forced) is refused with AADSTS7000222', async () => {
    const secret = await freshSecret();
    clockMs = Date.now() + 61 * DAY_MS;
    const expired = await httpsJson(emulator.tokenEndpoint, { ca: emulator.caPem, form: tokenForm(secret) });
    expect(expired.status).toBe(401);
    expect(expired.body).toMatchObject({ error: 'invalid_client', error_codes: [7000222] });

    clockMs = Date.now();
    const { version } = await emulator.rotate({});
    const fresh = await currentSecret();
    emulator.expireCredentialInEntra(version);
    const forced = await httpsJson(emulator.tokenEndpoint, { ca: emulator.caPem, form: tokenForm(fresh) });
    expect(forced.body.error_codes).toEqual([7000222]);
    emulator.revokeCredential(version);
    const revoked = await httpsJson(emulator.tokenEndpoint, { ca: emulator.caPem, form: tokenForm(fresh) });
    expect(revoked.body.error_codes).toEqual([7000215]);
  });

  it('rollSigningKeys publishes a new key, keeps the old one and signs with the new one', async () => {
    const before = decodeProtectedHeader(await emulator.callerToken('workload-a')).kid;
    const { kid } = await emulator.rollSigningKeys();
    expect(kid).not.toBe(before);
    const jwks = await httpsJson(emulator.jwksUri, { ca: emulator.caPem });
    expect(jwks.body.keys.map((k: { kid: string }) => k.kid)).toEqual([before, kid]);
    expect(decodeProtectedHeader(await emulator.callerToken('workload-a')).kid).toBe(kid);
    const crafted = await emulator.signJwt({ sub: 'x' }, { kid: before! });
    expect(decodeProtectedHeader(crafted).kid).toBe(before);
  });

  it('the control HTTP API drives faults, stats, rotate and reset', async () => {
    const control = (path: string, method: string, json?: unknown) =>
      httpsJson(`${emulator.controlUrl}${path}`, { ca: emulator.caPem, method, json });
    const secret = await freshSecret();
    expect((await control('/faults', 'POST', { target: 'token', mode: 'status', status: 503, count: 1 })).status).toBe(
      201,
    );
    expect((await control('/faults', 'POST', { target: 'nowhere', mode: 'hang' })).status).toBe(400);
    expect((await httpsJson(emulator.tokenEndpoint, { ca: emulator.caPem, form: tokenForm(secret) })).status).toBe(503);
    await control('/faults', 'POST', { target: 'token', mode: 'status', status: 500 });
    expect((await control('/faults', 'DELETE')).status).toBe(200);
    expect((await httpsJson(emulator.tokenEndpoint, { ca: emulator.caPem, form: tokenForm(secret) })).status).toBe(200);

    const stats = await control('/stats', 'GET');
    expect(stats.body.tokenRequests[emulator.broker.clientId][emulator.scopes[0]!]).toBe(2);
    expect(stats.body.keyVaultReads[emulator.broker.credentialName]).toBe(1);

    const rotated = await control('/rotate', 'POST', { expiresInDays: 10, revokePrevious: false });
    expect(rotated.status).toBe(201);
    expect(rotated.body.version).toMatch(/^[0-9a-f]{32}$/);
    expect((await control(`/secrets/${rotated.body.version}/disable`, 'POST')).status).toBe(200);
    await expect(currentSecret()).rejects.toMatchObject({ statusCode: 403 });
    await control(`/secrets/${rotated.body.version}/enable`, 'POST');
    await expect(currentSecret()).resolves.not.toBe(secret);

    expect((await control('/reset', 'POST')).body).toEqual({
      tokenRequests: {},
      keyVaultReads: {},
      managedIdentityRequests: 0,
    });
  });
});
