/**
 * Regression: Key Vault's `created` has one-second resolution and its version listing has no
 * promised order. A rotation in the same second as the previous version (right after a deployment,
 * or a script setting two versions) was then ordered by listing position, so the broker could take
 * the older version for the newest and never rotate to — or check the expiry of — the real one.
 */
import { startEmulator, type RunningEmulator } from '../../../dev/emulator';
import type { BrokerConfig } from '../../../src/contract/config';
import { createKeyVaultCredentialSource } from '../../../src/credentials/credentialSource';
import type { CredentialSource } from '../../../src/credentials/credentialTypes';
import { silentLogger } from '../../support/silentLogger';
import { createManagedIdentityCredential } from '../../../src/credentials/managedIdentity';
import { SecretRegistry } from '../../../src/platform/redact';
import { configFor, useIdentityEnv } from './support';

describe('credential source: versions created in the same second', () => {
  // The emulator's clock stands still, so every version gets the same `created` second.
  const frozenMs = Date.now();
  let emulator: RunningEmulator;
  let restoreEnv: () => void;
  let config: BrokerConfig;
  let source: CredentialSource;

  beforeAll(async () => {
    emulator = await startEmulator({ now: () => frozenMs });
    restoreEnv = useIdentityEnv(emulator);
    config = configFor(emulator);
    source = createKeyVaultCredentialSource({
      config,
      managedIdentity: createManagedIdentityCredential({ config, tlsCaPem: emulator.caPem }),
      logger: silentLogger,
      secrets: new SecretRegistry(),
      tlsCaPem: emulator.caPem,
      timeoutMs: 3000,
    });
  });

  afterAll(async () => {
    restoreEnv();
    await emulator.close();
  });

  it('latestProperties() names the version Key Vault calls current, whatever the listing order', async () => {
    const first = await source.current();
    const created: string[] = [first.properties.version];
    // Rotate until the newest version is not also the last one by version id, so that no ordering
    // of the listing could give the right answer by luck.
    let newest = '';
    for (let i = 0; i < 30; i += 1) {
      newest = (await emulator.rotate({ expiresInDays: 30 })).version;
      created.push(newest);
      if ([...created].sort().at(-1) !== newest && [...created].sort()[0] !== newest) break;
    }
    const latest = await source.latestProperties();
    expect(latest.createdOnMs).toBe(first.properties.createdOnMs);
    expect(latest.version).toBe(newest);
    expect((await source.load()).properties.version).toBe(newest);
  });
});
