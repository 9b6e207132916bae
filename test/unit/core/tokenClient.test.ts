import { acquiredTokenFrom, createEntraTokenClient } from '../../../src/core/tokenClient';
import { parseConfig } from '../../../src/core/config';
import { silentLogger } from '../../../src/core/logger';

const WALL = Date.UTC(2026, 10, 28, 9, 0, 0);
const CLOCK = WALL - 7 * 60_000; // the injected clock is 7 minutes behind the wall clock

describe('acquiredTokenFrom', () => {
  it('moves expiry onto the injected clock: receive time + remaining lifetime (less 1 s of SDK rounding)', () => {
    const token = acquiredTokenFrom({ token: 'eyJ.a.b', expiresOnTimestamp: WALL + 3599_000 }, CLOCK, WALL);
    expect(token).toEqual({ accessToken: 'eyJ.a.b', expiresOnMs: CLOCK + 3598_000, refreshAfterMs: undefined });
  });

  it('a clock off by minutes does not change the lifetime granted (checklist 26)', () => {
    const ahead = acquiredTokenFrom({ token: 't', expiresOnTimestamp: WALL + 600_000 }, WALL + 3_600_000, WALL);
    expect(ahead.expiresOnMs - (WALL + 3_600_000)).toBe(599_000);
  });

  it('carries refresh_in over the same way', () => {
    const token = acquiredTokenFrom(
      { token: 't', expiresOnTimestamp: WALL + 7200_000, refreshAfterTimestamp: WALL + 3600_000 },
      CLOCK,
      WALL,
    );
    expect(token.refreshAfterMs).toBe(CLOCK + 3600_000);
  });

  it('ignores a refresh hint that is not before expiry', () => {
    const token = acquiredTokenFrom(
      { token: 't', expiresOnTimestamp: WALL + 60_000, refreshAfterTimestamp: WALL + 120_000 },
      CLOCK,
      WALL,
    );
    expect(token.refreshAfterMs).toBeUndefined();
  });

  it.each([
    ['null', null],
    ['an empty token', { token: '', expiresOnTimestamp: WALL + 3599_000 }],
    ['a past expiry', { token: 't', expiresOnTimestamp: WALL - 1 }],
    ['an expiry now (expires_in 0)', { token: 't', expiresOnTimestamp: WALL }],
    ['a NaN expiry', { token: 't', expiresOnTimestamp: Number.NaN }],
    ['an infinite expiry', { token: 't', expiresOnTimestamp: Number.POSITIVE_INFINITY }],
  ])('refuses %s with entra_malformed_response', (_what, token) => {
    expect(() => acquiredTokenFrom(token, CLOCK, WALL, 200)).toThrow(
      expect.objectContaining({ code: 'entra_malformed_response', upstreamStatus: 200 }),
    );
  });
});

describe('createEntraTokenClient', () => {
  const settings = {
    ENTRA_TENANT_ID: '11111111-1111-4111-8111-111111111111',
    ENTRA_CLIENT_ID: '22222222-2222-4222-8222-222222222222',
    KEY_VAULT_URL: 'https://kv.vault.azure.net',
    TOKEN_SCOPES: 'api://33333333-3333-4333-8333-333333333333/.default',
    CALLER_AUDIENCES: 'api://entra-token-broker',
    CALLER_POLICY: '{}',
    CLIENT_CREDENTIAL_KIND: 'federated',
  };

  it('federated without a managed identity → credential_invalid before any request', async () => {
    const client = createEntraTokenClient({ config: parseConfig(settings), logger: silentLogger });
    const federated = {
      kind: 'federated' as const,
      properties: {
        name: 'x',
        kind: 'federated' as const,
        version: 'federated',
        enabled: true,
        expiresOnMs: undefined,
        notBeforeMs: undefined,
        createdOnMs: undefined,
        updatedOnMs: undefined,
      },
    };
    await expect(client.acquire(federated, settings.TOKEN_SCOPES)).rejects.toMatchObject({
      code: 'credential_invalid',
    });
  });

  it('an unusable certificate PEM → credential_invalid before any request', async () => {
    const client = createEntraTokenClient({ config: parseConfig(settings), logger: silentLogger });
    const certificate = {
      kind: 'certificate' as const,
      pem: 'not a pem',
      properties: {
        name: 'x',
        kind: 'certificate' as const,
        version: 'v1',
        enabled: true,
        expiresOnMs: undefined,
        notBeforeMs: undefined,
        createdOnMs: undefined,
        updatedOnMs: undefined,
      },
    };
    await expect(client.acquire(certificate, settings.TOKEN_SCOPES)).rejects.toMatchObject({
      code: 'credential_invalid',
    });
  });
});
