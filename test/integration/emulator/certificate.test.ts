import { createHash, X509Certificate } from 'node:crypto';
import { ClientCertificateCredential } from '@azure/identity';
import { CertificateClient } from '@azure/keyvault-certificates';
import { SecretClient } from '@azure/keyvault-secrets';
import { decodeJwt, SignJWT } from 'jose';
import { startEmulator } from '../../../dev/emulator';
import type { RunningEmulator } from '../../../dev/emulator';
import { generateRsaKeyPair, issueCertificate } from '../../../dev/emulator/tls';
import { httpsJson, miCredential, sdkOptions, withIdentityEnv } from './support';

const DAY_MS = 86_400_000;

describe('emulator: certificate credential ', () => {
  let emulator: RunningEmulator;
  let clockMs = Date.now();

  beforeAll(async () => {
    emulator = await startEmulator({ credentialKind: 'certificate', secretExpiresInDays: 60, now: () => clockMs });
  });
  afterAll(async () => {
    await emulator.close();
  });
  beforeEach(() => {
    clockMs = Date.now();
    emulator.reset();
  });

  async function readPem(version?: string): Promise<{ pem: string; version: string }> {
    return withIdentityEnv(emulator, async () => {
      const client = new SecretClient(emulator.keyVaultUrl, miCredential(emulator), {
        disableChallengeResourceVerification: true,
        tlsOptions: { ca: emulator.caPem },
      });
      const secret = await client.getSecret(emulator.broker.credentialName, version ? { version } : {});
      expect(secret.properties.contentType).toBe('application/x-pem-file');
      return { pem: secret.value!, version: secret.properties.version! };
    });
  }

  it('Key Vault serves the certificate (x5t, cer, notAfter, policy) and its PEM secret', async () => {
    await withIdentityEnv(emulator, async () => {
      const client = new CertificateClient(emulator.keyVaultUrl, miCredential(emulator), {
        disableChallengeResourceVerification: true,
        tlsOptions: { ca: emulator.caPem },
      });
      const certificate = await client.getCertificate(emulator.broker.credentialName);
      const x509 = new X509Certificate(Buffer.from(certificate.cer!));
      expect(Buffer.from(certificate.properties.x509Thumbprint!).toString('hex')).toBe(
        createHash('sha1').update(Buffer.from(certificate.cer!)).digest('hex'),
      );
      expect(certificate.properties.expiresOn!.getTime()).toBe(
        Math.floor(new Date(x509.validTo).getTime() / 1000) * 1000,
      );
      expect(certificate.properties.expiresOn!.getTime()).toBeGreaterThan(Date.now() + 59 * DAY_MS);
      expect(certificate.properties.enabled).toBe(true);
      expect(certificate.policy?.contentType).toBe('application/x-pem-file');
      expect(certificate.secretId).toBe(
        `${emulator.keyVaultUrl}/secrets/${emulator.broker.credentialName}/${certificate.properties.version}`,
      );
    });
    const { pem } = await readPem();
    expect(pem).toContain('-----BEGIN PRIVATE KEY-----');
    expect(pem).toContain('-----BEGIN CERTIFICATE-----');
    expect(emulator.stats().keyVaultReads[emulator.broker.credentialName]).toBe(2);
  });

  it('ClientCertificateCredential (PEM from Key Vault) gets a token', async () => {
    const { pem } = await readPem();
    const credential = new ClientCertificateCredential(
      emulator.tenantId,
      emulator.broker.clientId,
      { certificate: pem },
      sdkOptions(emulator),
    );
    const token = await credential.getToken(emulator.scopes[0]!);
    expect(decodeJwt(token.token)).toMatchObject({
      aud: emulator.thirdPartyApi.audience,
      azp: emulator.broker.clientId,
    });
    // MSAL reuses its assertion for a second scope; Entra (and the emulator by default) accept that.
    await expect(credential.getToken(emulator.scopes[1]!)).resolves.toMatchObject({ token: expect.any(String) });
  });

  it('refuses a certificate that is not registered on the app with AADSTS700027', async () => {
    const stranger = issueCertificate({
      commonName: 'stranger',
      keys: generateRsaKeyPair(),
      notBefore: new Date(Date.now() - DAY_MS),
      notAfter: new Date(Date.now() + DAY_MS),
    });
    const pem = stranger.keys.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString() + stranger.certPem;
    const credential = new ClientCertificateCredential(
      emulator.tenantId,
      emulator.broker.clientId,
      { certificate: pem },
      sdkOptions(emulator),
    );
    await expect(credential.getToken(emulator.scopes[0]!)).rejects.toThrow(/AADSTS700027/);
  });

  it('refuses an expired certificate with AADSTS700027 naming the expiry', async () => {
    const { pem } = await readPem();
    clockMs = Date.now() + 61 * DAY_MS;
    const credential = new ClientCertificateCredential(
      emulator.tenantId,
      emulator.broker.clientId,
      { certificate: pem },
      sdkOptions(emulator),
    );
    await expect(credential.getToken(emulator.scopes[0]!)).rejects.toThrow(/AADSTS700027.*expired/);
  });

  it('rotate registers a new certificate version; revokePrevious makes Entra refuse the old one', async () => {
    const old = await readPem();
    const { version } = await emulator.rotate({ revokePrevious: true });
    const fresh = await readPem();
    expect(fresh.version).toBe(version);
    expect(fresh.pem).not.toBe(old.pem);
    const options = sdkOptions(emulator);
    await expect(
      new ClientCertificateCredential(
        emulator.tenantId,
        emulator.broker.clientId,
        { certificate: old.pem },
        options,
      ).getToken(emulator.scopes[0]!),
    ).rejects.toThrow(/AADSTS700027/);
    await expect(
      new ClientCertificateCredential(
        emulator.tenantId,
        emulator.broker.clientId,
        { certificate: fresh.pem },
        options,
      ).getToken(emulator.scopes[0]!),
    ).resolves.toMatchObject({ token: expect.any(String) });
  });

  it('checks the assertion claims: iss/sub must be the client, aud the token endpoint, exp short', async () => {
    const { pem } = await readPem();
    const privateKey = pem.slice(0, pem.indexOf('-----BEGIN CERTIFICATE-----'));
    const der = Buffer.from(new X509Certificate(pem.slice(pem.indexOf('-----BEGIN CERTIFICATE-----'))).raw);
    const x5tS256 = createHash('sha256').update(der).digest('base64url');
    const { createPrivateKey } = await import('node:crypto');
    const key = createPrivateKey(privateKey);
    const nowSeconds = Math.floor(Date.now() / 1000);
    const assertion = (claims: Record<string, unknown>) =>
      new SignJWT({
        iss: emulator.broker.clientId,
        sub: emulator.broker.clientId,
        aud: emulator.tokenEndpoint,
        jti: crypto.randomUUID(),
        iat: nowSeconds,
        nbf: nowSeconds,
        exp: nowSeconds + 600,
        ...claims,
      })
        .setProtectedHeader({ alg: 'RS256', typ: 'JWT', 'x5t#S256': x5tS256 })
        .sign(key);
    const send = async (claims: Record<string, unknown>) =>
      httpsJson(emulator.tokenEndpoint, {
        ca: emulator.caPem,
        form: {
          grant_type: 'client_credentials',
          client_id: emulator.broker.clientId,
          scope: emulator.scopes[0]!,
          client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
          client_assertion: await assertion(claims),
        },
      });
    expect((await send({})).status).toBe(200);
    expect((await send({ iss: emulator.callers[0]!.clientId })).body.error_codes).toEqual([700021]);
    expect((await send({ aud: 'https://example.invalid/token' })).status).toBe(401);
    expect(
      (await send({ exp: nowSeconds - 3600, nbf: nowSeconds - 4000, iat: nowSeconds - 4000 })).body.error_codes,
    ).toEqual([700024]);
    expect((await send({ exp: nowSeconds + 86_400 })).body.error_codes).toEqual([700024]);
  });
});
