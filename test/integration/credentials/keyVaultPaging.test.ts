/**
 * Key Vault lists versions in pages of at most 25 with a `nextLink` (`$skiptoken`), in no promised
 * order, sometimes with empty pages before the items (docs/azure-fidelity.md, "Key Vault lists in
 * pages"). The credential source must read every page, pick the newest enabled version by its
 * `created` time wherever it is listed, and keep the whole listing inside its deadline.
 */
import { startEmulator, type RunningEmulator } from '../../../dev/emulator';
import type { BrokerConfig } from '../../../src/contract/config';
import { createKeyVaultCredentialSource } from '../../../src/credentials/credentialSource';
import type { CredentialSource } from '../../../src/credentials/credentialTypes';
import { silentLogger } from '../../support/silentLogger';
import { createManagedIdentityCredential } from '../../../src/credentials/managedIdentity';
import { SecretRegistry } from '../../../src/platform/redact';
import { configFor, ErrorLog, useIdentityEnv } from './support';

describe('credential source: a version listing in pages', () => {
  // Each version gets its own `created` second, so "newest" is unambiguous.
  let emulatorMs = Date.now() - 3600_000;
  let emulator: RunningEmulator;
  let restoreEnv: () => void;
  let config: BrokerConfig;
  const errors = new ErrorLog();
  const versions: string[] = [];

  const newSource = (timeoutMs = 3000): CredentialSource =>
    createKeyVaultCredentialSource({
      config,
      managedIdentity: createManagedIdentityCredential({ config, tlsCaPem: emulator.caPem }),
      logger: silentLogger,
      secrets: new SecretRegistry(),
      tlsCaPem: emulator.caPem,
      timeoutMs,
    });

  beforeAll(async () => {
    emulator = await startEmulator({ now: () => emulatorMs, credentialActivationDelaySeconds: 0 });
    restoreEnv = useIdentityEnv(emulator);
    config = configFor(emulator);
    versions.push((await newSource().current()).properties.version);
    for (let i = 0; i < 5; i += 1) {
      emulatorMs += 1000;
      versions.push((await emulator.rotate({})).version);
    }
  });

  afterAll(async () => {
    restoreEnv();
    await emulator.close();
  });

  beforeEach(() => {
    emulator.reset();
    emulator.setKeyVaultPaging({ pageSize: 1, emptyPages: 2 });
  });

  it('with page size 1 and empty first pages, the newest enabled version is found across every page', async () => {
    const newest = versions.at(-1)!;
    const runnerUp = versions.at(-2)!;
    expect((await newSource().latestProperties()).version).toBe(newest);

    // The newest disabled: the source falls back on the listing, which spans seven pages here.
    emulator.setSecretEnabled(newest, false);
    try {
      const source = newSource();
      expect((await source.latestProperties()).version).toBe(runnerUp);
      expect((await source.current()).properties.version).toBe(runnerUp);
    } finally {
      emulator.setSecretEnabled(newest, true);
    }
  });

  it('one deadline covers the whole listing: a page that hangs → keyvault_timeout, not a wait per page', async () => {
    const newest = versions.at(-1)!;
    emulator.setSecretEnabled(newest, false);
    try {
      // The first four pages answer (two of them empty); the fifth hangs.
      emulator.setFault({ target: 'keyvault', mode: 'hang', after: 4 });
      await errors.expectCode(newSource(1500).latestProperties(), 'keyvault_timeout');
    } finally {
      emulator.clearFaults();
      emulator.setSecretEnabled(newest, true);
    }
  });
});
