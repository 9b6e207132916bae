import { createRemoteJWKSet, customFetch, jwtVerify } from 'jose';
import { startEmulator, type RunningEmulator } from '../../../dev/emulator';
import type { BrokerConfig } from '../../../src/contract/config';
import { createKeyVaultCredentialSource } from '../../../src/credentials/credentialSource';
import type { CredentialSource } from '../../../src/credentials/credentialTypes';
import { createManagedIdentityCredential } from '../../../src/credentials/managedIdentity';
import { SecretRegistry } from '../../../src/platform/redact';
import { createTlsFetch } from '../../../src/platform/tlsFetch';
import { createEntraTokenClient, type TokenClient } from '../../../src/tokens/tokenClient';
import { ErrorLog, closedPort, configFor, fixedClock, useIdentityEnv } from './support';
import { createRecordingLogger } from '../../support/fakes/recordingLogger';

const CANARY = 'canary-broker-secret-6d2f0a1c9b';
const CLOCK_START = Date.UTC(2026, 10, 28, 9, 0, 0);

describe('credentials (secret): Key Vault via managed identity, Entra via ClientSecretCredential', () => {
  let emulator: RunningEmulator;
  let restoreEnv: () => void;
  let config: BrokerConfig;
  let secrets: SecretRegistry;
  let lines: string[];
  let source: CredentialSource;
  let client: TokenClient;
  const errors = new ErrorLog();
  const clock = fixedClock(CLOCK_START);

  beforeAll(async () => {
    emulator = await startEmulator({ clientSecret: CANARY });
    restoreEnv = useIdentityEnv(emulator);
    config = configFor(emulator);
    secrets = new SecretRegistry();
    const captured = createRecordingLogger();
    lines = captured.lines;
    const managedIdentity = createManagedIdentityCredential({ config, tlsCaPem: emulator.caPem });
    source = createKeyVaultCredentialSource({
      config,
      managedIdentity,
      logger: captured.logger,
      secrets,
      tlsCaPem: emulator.caPem,
      clock,
      timeoutMs: 3000,
    });
    client = createEntraTokenClient({ config, clock, logger: captured.logger, tlsCaPem: emulator.caPem });
  });

  afterAll(async () => {
    restoreEnv();
    await emulator.close();
  });

  beforeEach(() => emulator.reset());

  describe('Key Vault', () => {
    it('loads the secret once for concurrent first calls (single-flight) and keeps it', async () => {
      const all = await Promise.all(Array.from({ length: 10 }, () => source.current()));
      const first = all[0]!;
      expect(first.kind).toBe('secret');
      expect(first.kind === 'secret' && first.secret).toBe(CANARY);
      expect(all.every((credential) => credential === first)).toBe(true);
      expect(first.properties).toMatchObject({ name: config.credentialName, kind: 'secret', enabled: true });
      expect(first.properties.version).toMatch(/^[0-9a-f]{32}$/);
      expect(first.properties.expiresOnMs).toBeGreaterThan(Date.now() + 80 * 86_400_000);
      expect(source.peek()).toBe(first);
      await source.current();
      expect(emulator.stats().keyVaultReads[config.credentialName]).toBe(1);
    });

    it('latestProperties() reads the version and expiry without reading the value', async () => {
      const current = await source.current();
      emulator.reset();
      const properties = await source.latestProperties();
      expect(properties).toEqual(current.properties);
      expect(emulator.stats().keyVaultReads[config.credentialName] ?? 0).toBe(0);
    });

    it('picks up a new version with load() without making it current until promote()', async () => {
      const before = await source.current();
      const { version } = await emulator.rotate({ expiresInDays: 30 });
      expect((await source.latestProperties()).version).toBe(version);
      const loaded = await source.load();
      expect(loaded.properties.version).toBe(version);
      expect(loaded.kind === 'secret' && loaded.secret).not.toBe(CANARY);
      expect((await source.current()).properties.version).toBe(before.properties.version);
      source.promote(loaded);
      expect((await source.current()).properties.version).toBe(version);
      expect(source.peek()).toBe(loaded);
      // Put the canary back in use for the tests below.
      source.promote(before);
    });

    it('latestProperties() names the version Key Vault calls current when two were created in the same second', async () => {
      const before = await source.current();
      // Two rotations in a row land in the same `created` second more often than not; whichever
      // second they fall in, the answer must be the one set last.
      await emulator.rotate({ expiresInDays: 30 });
      const { version: last } = await emulator.rotate({ expiresInDays: 20 });
      expect((await source.latestProperties()).version).toBe(last);
      expect((await source.load()).properties.version).toBe(last);
      source.promote(before);
    });

    it('load(version) reads that version; a disabled one → keyvault_disabled', async () => {
      const current = await source.current();
      const again = await source.load(current.properties.version);
      expect(again.properties.version).toBe(current.properties.version);
      const { version } = await emulator.rotate({});
      emulator.setSecretEnabled(version, false);
      await errors.expectCode(source.load(version), 'keyvault_disabled');
      // The newest version is disabled: the latest ENABLED one is used instead.
      const latest = await source.load();
      expect(latest.properties.version).not.toBe(version);
      expect(latest.properties.enabled).toBe(true);
      const properties = await source.latestProperties();
      expect(properties.version).toBe(latest.properties.version);
    });

    it('403 (firewall/RBAC) → keyvault_forbidden', async () => {
      emulator.setFault({ target: 'keyvault', mode: 'status', status: 403 });
      await errors.expectCode(source.load(), 'keyvault_forbidden');
    });

    it('404 (no such secret) → keyvault_not_found', async () => {
      const other = createKeyVaultCredentialSource({
        config: configFor(emulator, { CLIENT_CREDENTIAL_NAME: 'no-such-secret' }),
        managedIdentity: createManagedIdentityCredential({ config, tlsCaPem: emulator.caPem }),
        logger: createRecordingLogger().logger,
        secrets,
        tlsCaPem: emulator.caPem,
      });
      const error = await errors.expectCode(other.current(), 'keyvault_not_found');
      expect(error.upstreamStatus).toBe(404);
      await errors.expectCode(other.latestProperties(), 'keyvault_not_found');
    });

    it('429 with Retry-After → keyvault_throttled with retryAfterSeconds; a failed load is not cached', async () => {
      const fresh = newSource();
      emulator.setFault({ target: 'keyvault', mode: 'status', status: 429, retryAfter: 9 });
      const error = await errors.expectCode(fresh.current(), 'keyvault_throttled');
      expect(error.retryAfterSeconds).toBe(9);
      emulator.clearFaults();
      const credential = await fresh.current();
      expect(credential.kind).toBe('secret');
      expect(credential.properties.version).toBe((await fresh.latestProperties()).version);
    });

    it('500 → keyvault_transient; a truncated 200 → keyvault_transient', async () => {
      emulator.setFault({ target: 'keyvault', mode: 'status', status: 500 });
      await errors.expectCode(source.load(), 'keyvault_transient');
      emulator.clearFaults();
      emulator.setFault({ target: 'keyvault', mode: 'malformed' });
      await errors.expectCode(source.load(), 'keyvault_transient');
    });

    it('a hung Key Vault → keyvault_timeout at our deadline', async () => {
      const fast = newSource(300);
      emulator.setFault({ target: 'keyvault', mode: 'hang' });
      await errors.expectCode(fast.current(), 'keyvault_timeout');
      emulator.clearFaults();
      await expect(fast.current()).resolves.toMatchObject({ kind: 'secret' });
    });

    function newSource(timeoutMs = 3000): CredentialSource {
      return createKeyVaultCredentialSource({
        config,
        managedIdentity: createManagedIdentityCredential({ config, tlsCaPem: emulator.caPem }),
        logger: createRecordingLogger().logger,
        secrets,
        tlsCaPem: emulator.caPem,
        timeoutMs,
      });
    }
  });

  describe('Entra', () => {
    it('acquires a token that jose verifies, with expiry on the injected clock', async () => {
      const credential = await source.current();
      const token = await client.acquire(credential, emulator.scopes[0]!);
      const jwks = createRemoteJWKSet(new URL(emulator.jwksUri), { [customFetch]: createTlsFetch(emulator.caPem) });
      const { payload } = await jwtVerify(token.accessToken, jwks, {
        issuer: `https://login.microsoftonline.com/${emulator.tenantId}/v2.0`,
        audience: emulator.thirdPartyApi.audience,
        algorithms: ['RS256'],
      });
      expect(payload.azp).toBe(emulator.broker.clientId);
      // Receive time on the fake clock + about 3599 s (less the request's own latency).
      expect(token.expiresOnMs).toBeLessThanOrEqual(CLOCK_START + 3599_000);
      expect(token.expiresOnMs).toBeGreaterThan(CLOCK_START + 3500_000);
      expect(emulator.stats().tokenRequests[emulator.broker.clientId]?.[emulator.scopes[0]!]).toBe(1);
    });

    it('regression: every acquire goes to Entra (no MSAL per-instance cache hiding refresh-ahead)', async () => {
      const credential = await source.current();
      const first = await client.acquire(credential, emulator.scopes[0]!);
      const second = await client.acquire(credential, emulator.scopes[0]!);
      expect(second.accessToken).not.toBe(first.accessToken);
      expect(emulator.stats().tokenRequests[emulator.broker.clientId]?.[emulator.scopes[0]!]).toBe(2);
    });

    it('wrong secret → entra_credential_rejected (AADSTS7000215)', async () => {
      const current = await source.current();
      const wrong = { ...current, kind: 'secret' as const, secret: 'not-the-right-secret-value' };
      const error = await errors.expectCode(client.acquire(wrong, emulator.scopes[0]!), 'entra_credential_rejected');
      expect(error).toMatchObject({ aadsts: 7000215, upstreamStatus: 401, upstreamError: 'invalid_client' });
    });

    it('a version expired in Entra → entra_credential_expired (AADSTS7000222)', async () => {
      const { version } = await emulator.rotate({});
      const rotated = await source.load(version);
      emulator.expireCredentialInEntra(version);
      const error = await errors.expectCode(client.acquire(rotated, emulator.scopes[0]!), 'entra_credential_expired');
      expect(error.aadsts).toBe(7000222);
    });

    it('an unknown resource → entra_configuration', async () => {
      const credential = await source.current();
      const error = await errors.expectCode(
        client.acquire(credential, 'api://00000000-0000-4000-8000-000000000000/.default'),
        'entra_configuration',
      );
      expect(error.upstreamStatus).toBe(400);
    });

    it.each([
      ['an unknown tenant', 'ENTRA_TENANT_ID'],
      ['an unknown app (client ID)', 'ENTRA_CLIENT_ID'],
    ])('%s → entra_configuration', async (_what, setting) => {
      const misconfigured = createEntraTokenClient({
        config: configFor(emulator, { [setting]: '0badc0de-0000-4000-8000-000000000000' }),
        logger: createRecordingLogger().logger,
        tlsCaPem: emulator.caPem,
      });
      await errors.expectCode(
        misconfigured.acquire(await source.current(), emulator.scopes[0]!),
        'entra_configuration',
      );
    });

    it('429 with Retry-After → entra_throttled with retryAfterSeconds; the next attempt is not refused by MSAL', async () => {
      const credential = await source.current();
      emulator.setFault({ target: 'token', mode: 'status', status: 429, retryAfter: 7, count: 1 });
      const error = await errors.expectCode(client.acquire(credential, emulator.scopes[0]!), 'entra_throttled');
      expect(error).toMatchObject({ retryAfterSeconds: 7, upstreamStatus: 429 });
      // A reused MSAL instance would refuse locally for 60 s; a fresh one goes to Entra.
      await expect(client.acquire(credential, emulator.scopes[0]!)).resolves.toMatchObject({
        accessToken: expect.any(String),
      });
    });

    it('500 → entra_transient', async () => {
      const credential = await source.current();
      emulator.setFault({ target: 'token', mode: 'status', status: 500, count: 1 });
      const error = await errors.expectCode(client.acquire(credential, emulator.scopes[0]!), 'entra_transient');
      expect(error.upstreamStatus).toBe(500);
    });

    it('a hung token endpoint → entra_timeout at our deadline', async () => {
      const credential = await source.current();
      emulator.setFault({ target: 'token', mode: 'hang' });
      await errors.expectCode(client.acquire(credential, emulator.scopes[0]!, { timeoutMs: 300 }), 'entra_timeout');
      emulator.clearFaults();
    });

    it.each(['html', 'truncated', 'no-token', 'bad-expiry'] as const)(
      'a malformed 200 (%s) → entra_malformed_response',
      async (malformedBody) => {
        const credential = await source.current();
        emulator.setFault({ target: 'token', mode: 'malformed', malformedBody, count: 1 } as never);
        await errors.expectCode(client.acquire(credential, emulator.scopes[0]!), 'entra_malformed_response');
      },
    );

    it('connection refused → entra_transient', async () => {
      const port = await closedPort();
      const refused = createEntraTokenClient({
        config: configFor(emulator, { ENTRA_AUTHORITY_HOST: `https://127.0.0.1:${port}` }),
        logger: createRecordingLogger().logger,
        tlsCaPem: emulator.caPem,
      });
      await errors.expectCode(refused.acquire(await source.current(), emulator.scopes[0]!), 'entra_transient');
    });

    it('an untrusted TLS certificate → entra_transient', async () => {
      const untrusting = createEntraTokenClient({ config, logger: createRecordingLogger().logger });
      await errors.expectCode(untrusting.acquire(await source.current(), emulator.scopes[0]!), 'entra_transient');
    });
  });

  describe('secrets hygiene', () => {
    it('the loaded secret is registered with the SecretRegistry (so the app logger scrubs it)', () => {
      expect(secrets.scrub(`x ${CANARY} y`)).toBe('x [redacted] y');
    });

    it('the canary secret never appears in a log line or an error', () => {
      expect(lines.length).toBeGreaterThan(0);
      expect(errors.errors.length).toBeGreaterThan(10);
      const everything = `${lines.join('\n')}\n${errors.text()}`;
      expect(everything).not.toContain(CANARY);
      expect(everything).not.toMatch(/eyJ[A-Za-z0-9_-]{10,}/);
      expect(everything).not.toContain('client_secret=');
      expect(everything).not.toMatch(/Bearer [A-Za-z0-9]/);
    });
  });
});
