import { X509Certificate } from 'node:crypto';
import { createRemoteJWKSet, customFetch, jwtVerify } from 'jose';
import { startEmulator, type RunningEmulator } from '../../../dev/emulator';
import { generateRsaKeyPair, issueCertificate } from '../../../dev/emulator/tls';
import type { BrokerConfig } from '../../../src/contract/config';
import { createKeyVaultCredentialSource } from '../../../src/credentials/credentialSource';
import type { ClientCredential, CredentialSource } from '../../../src/credentials/credentialTypes';
import { createManagedIdentityCredential } from '../../../src/credentials/managedIdentity';
import { SecretRegistry } from '../../../src/platform/redact';
import { createTlsFetch } from '../../../src/platform/tlsFetch';
import { createEntraTokenClient, type TokenClient } from '../../../src/tokens/tokenClient';
import { ErrorLog, configFor, useIdentityEnv } from './support';
import { createRecordingLogger } from '../../support/fakes/recordingLogger';

const DAY_MS = 86_400_000;

function pemBody(pem: string): string {
  return pem.replace(/-----[A-Z ]+-----/g, '').replace(/\s+/g, '');
}

describe('credentials (certificate): Key Vault certificate, Entra via ClientCertificateCredential', () => {
  let emulator: RunningEmulator;
  let emulatorNowMs = Date.now();
  let restoreEnv: () => void;
  let config: BrokerConfig;
  let lines: string[];
  let source: CredentialSource;
  let client: TokenClient;
  const secrets = new SecretRegistry();
  const errors = new ErrorLog();
  const privateKeys: string[] = [];

  beforeAll(async () => {
    emulator = await startEmulator({
      credentialKind: 'certificate',
      secretExpiresInDays: 60,
      now: () => emulatorNowMs,
    });
    restoreEnv = useIdentityEnv(emulator);
    config = configFor(emulator);
    const captured = createRecordingLogger();
    lines = captured.lines;
    source = createKeyVaultCredentialSource({
      config,
      managedIdentity: createManagedIdentityCredential({ config, tlsCaPem: emulator.caPem }),
      logger: captured.logger,
      secrets,
      tlsCaPem: emulator.caPem,
      timeoutMs: 3000,
    });
    client = createEntraTokenClient({ config, logger: captured.logger, tlsCaPem: emulator.caPem });
  });

  afterAll(async () => {
    restoreEnv();
    await emulator.close();
  });

  beforeEach(() => {
    emulatorNowMs = Date.now();
    emulator.reset();
  });

  function remember(credential: ClientCredential): ClientCredential {
    if (credential.kind === 'certificate')
      privateKeys.push(pemBody(credential.pem.slice(credential.pem.indexOf('-----BEGIN PRIVATE KEY'))));
    return credential;
  }

  it('loads the certificate with its private key; expiry is the certificate notAfter', async () => {
    const credential = remember(await source.current());
    expect(credential.kind).toBe('certificate');
    if (credential.kind !== 'certificate') return;
    const x509 = new X509Certificate(credential.pem);
    expect(credential.properties.expiresOnMs).toBe(Date.parse(x509.validTo));
    expect(credential.properties.expiresOnMs).toBeGreaterThan(Date.now() + 59 * DAY_MS);
    expect(credential.properties.expiresOnMs).toBeLessThan(Date.now() + 61 * DAY_MS);
    expect(credential.pem).toContain('-----BEGIN PRIVATE KEY-----');
    expect(credential.properties.version).toMatch(/^[0-9a-f]{32}$/);
  });

  it('latestProperties() comes from the certificate endpoint, same version and notAfter', async () => {
    const current = await source.current();
    const properties = await source.latestProperties();
    expect(properties.version).toBe(current.properties.version);
    expect(properties.expiresOnMs).toBe(current.properties.expiresOnMs);
    expect(properties.kind).toBe('certificate');
  });

  it('acquires a token that jose verifies (private_key_jwt)', async () => {
    const token = await client.acquire(await source.current(), emulator.scopes[0]!);
    const jwks = createRemoteJWKSet(new URL(emulator.jwksUri), { [customFetch]: createTlsFetch(emulator.caPem) });
    const { payload } = await jwtVerify(token.accessToken, jwks, {
      audience: emulator.thirdPartyApi.audience,
      algorithms: ['RS256'],
    });
    expect(payload.azp).toBe(emulator.broker.clientId);
    // A second scope with a fresh instance works too.
    await expect(client.acquire(await source.current(), emulator.scopes[1]!)).resolves.toMatchObject({
      accessToken: expect.any(String),
    });
  });

  it('rotation: a new certificate version is loaded, works, and is promoted', async () => {
    const before = await source.current();
    const { version } = await emulator.rotate({ expiresInDays: 120 });
    expect((await source.latestProperties()).version).toBe(version);
    const next = remember(await source.load());
    expect(next.properties.version).toBe(version);
    expect(next.properties.expiresOnMs).toBeGreaterThan(Date.now() + 119 * DAY_MS);
    await expect(client.acquire(next, emulator.scopes[0]!)).resolves.toMatchObject({ accessToken: expect.any(String) });
    expect((await source.current()).properties.version).toBe(before.properties.version);
    source.promote(next);
    expect((await source.current()).properties.version).toBe(version);
  });

  it('a certificate not registered on the app → entra_credential_rejected (AADSTS700027), which makes the engine re-read Key Vault', async () => {
    const keys = generateRsaKeyPair();
    const stranger = issueCertificate({
      commonName: 'stranger',
      keys,
      notBefore: new Date(Date.now() - DAY_MS),
      notAfter: new Date(Date.now() + DAY_MS),
    });
    const current = await source.current();
    const wrong = {
      ...current,
      kind: 'certificate' as const,
      pem: `${stranger.certPem}${keys.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString()}`,
    };
    const error = await errors.expectCode(client.acquire(wrong, emulator.scopes[0]!), 'entra_credential_rejected');
    expect(error.aadsts).toBe(700027);
  });

  it('an expired certificate → entra_credential_expired', async () => {
    const current = await source.current();
    emulatorNowMs = (current.properties.expiresOnMs ?? 0) + DAY_MS;
    const error = await errors.expectCode(client.acquire(current, emulator.scopes[0]!), 'entra_credential_expired');
    expect(error.aadsts).toBe(700027);
  });

  it('a disabled certificate version → keyvault_disabled', async () => {
    const { version } = await emulator.rotate({});
    emulator.setSecretEnabled(version, false);
    await errors.expectCode(source.load(version), 'keyvault_disabled');
  });

  it('the newest certificate version disabled → load() and latestProperties() use the newest enabled one', async () => {
    // Key Vault cannot order versions created in the same second (and promises no listing order);
    // with the newest one disabled it cannot say which remaining one is current either, so this
    // version is created in a second of its own (on the emulator's clock, which this file drives).
    emulatorNowMs = Math.max(emulatorNowMs, Date.now()) + 1_000;
    const enabled = await emulator.rotate({});
    emulatorNowMs += 1_000;
    const disabled = await emulator.rotate({ enabled: false });
    const latest = remember(await source.load());
    expect(latest.properties.version).toBe(enabled.version);
    expect(latest.properties.version).not.toBe(disabled.version);
    expect((await source.latestProperties()).version).toBe(enabled.version);
  });

  it('no private key and no assertion ever appears in a log line or an error', () => {
    expect(privateKeys.length).toBeGreaterThan(0);
    // Registered for the app logger's scrubbing (the capturing logger here does not use it).
    for (const key of privateKeys) expect(secrets.scrub(key)).toBe('[redacted]');
    expect(lines.length).toBeGreaterThan(0);
    const everything = `${lines.join('\n')}\n${errors.text()}`;
    for (const key of privateKeys) {
      expect(everything).not.toContain(key);
      expect(everything).not.toContain(key.slice(0, 64));
    }
    expect(everything).not.toContain('PRIVATE KEY');
    expect(everything).not.toMatch(/eyJ[A-Za-z0-9_-]{10,}/);
    expect(everything).not.toContain('client_assertion=');
  });
});
