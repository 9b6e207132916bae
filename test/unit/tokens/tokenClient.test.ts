import { acquiredTokenFrom, createEntraTokenClient } from '../../../src/tokens/tokenClient';
import { silentLogger } from '../../support/silentLogger';
import { FAKE_SCOPE_A, fakeConfig } from '../../support/fakes/fakeConfig';
import { fakeProperties } from '../../support/fakes/fakeCredentialSource';

const WALL = Date.UTC(2026, 10, 28, 9, 0, 0);
const CLOCK = WALL - 7 * 60_000; // the injected clock is 7 minutes behind the wall clock

describe('acquiredTokenFrom', () => {
  it('moves expiry onto the injected clock: receive time + remaining lifetime (less 1 s of SDK rounding)', () => {
    const token = acquiredTokenFrom({ token: 'eyJ.a.b', expiresOnTimestamp: WALL + 3599_000 }, CLOCK, WALL);
    expect(token).toEqual({ accessToken: 'eyJ.a.b', expiresOnMs: CLOCK + 3598_000, refreshAfterMs: undefined });
  });

  it('a clock off by minutes does not change the lifetime granted', () => {
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
  const config = fakeConfig({ CLIENT_CREDENTIAL_KIND: 'federated' });

  it('federated without a managed identity → credential_invalid before any request', async () => {
    const client = createEntraTokenClient({ config, logger: silentLogger });
    const federated = {
      kind: 'federated' as const,
      properties: fakeProperties({ name: 'x', kind: 'federated', version: 'federated' }),
    };
    await expect(client.acquire(federated, FAKE_SCOPE_A)).rejects.toMatchObject({
      code: 'credential_invalid',
    });
  });

  it('an unusable certificate PEM → credential_invalid before any request', async () => {
    const client = createEntraTokenClient({ config, logger: silentLogger });
    const certificate = {
      kind: 'certificate' as const,
      pem: 'not a pem',
      properties: fakeProperties({ name: 'x', kind: 'certificate', version: 'v1' }),
    };
    await expect(client.acquire(certificate, FAKE_SCOPE_A)).rejects.toMatchObject({
      code: 'credential_invalid',
    });
  });
});
