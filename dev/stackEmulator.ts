/**
 * The emulator as `npm start` runs it: its own process, started with an IPC channel. Options come
 * from the environment (EMULATOR_PORT, EMULATOR_THIRD_PARTY_PORT, EMULATOR_CREDENTIAL_KIND,
 * EMULATOR_CREDENTIAL_NAME, BROKER_STATE_DIR); it writes `<state>/ca.pem` and reports its URLs,
 * callers and the broker's settings to the parent as `{ event: 'emulator-ready', info }`. It exits on
 * SIGTERM/SIGINT or when the parent goes away.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { type EmulatorOptions, startEmulator } from './emulator/index';
import type { EmulatorProcessInfo, EmulatorReadyMessage } from './emulatorProcess';
import { stateDir } from './stackFile';

function port(name: string): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return 0;
  if (!/^\d+$/.test(raw) || Number(raw) > 65535) {
    process.stderr.write(`emulator: ${name} must be a whole number from 0 to 65535.\n`);
    process.exit(1);
  }
  return Number(raw);
}

async function main(): Promise<void> {
  const kind = process.env.EMULATOR_CREDENTIAL_KIND || 'secret';
  if (kind !== 'secret' && kind !== 'certificate' && kind !== 'federated') {
    process.stderr.write('emulator: the credential kind must be secret, certificate or federated.\n');
    process.exit(1);
  }
  const options: EmulatorOptions = {
    port: port('EMULATOR_PORT'),
    thirdPartyPort: port('EMULATOR_THIRD_PARTY_PORT'),
    credentialKind: kind,
  };
  if (process.env.EMULATOR_CREDENTIAL_NAME) options.credentialName = process.env.EMULATOR_CREDENTIAL_NAME;

  let emulator;
  try {
    emulator = await startEmulator(options);
  } catch (error) {
    const code = (error as { code?: string }).code;
    if (code === 'EADDRINUSE') {
      process.stderr.write(
        'emulator: a port it needs is already in use (EMULATOR_PORT / EMULATOR_THIRD_PARTY_PORT). ' +
          'Stop whatever holds it, or leave them unset to use free ports.\n',
      );
    } else {
      process.stderr.write(`emulator: failed to start: ${error instanceof Error ? error.message : String(error)}\n`);
    }
    process.exit(1);
  }

  const dir = stateDir();
  mkdirSync(dir, { recursive: true });
  const caCertPath = path.join(dir, 'ca.pem');
  writeFileSync(caCertPath, emulator.caPem);

  const info: EmulatorProcessInfo = {
    url: emulator.url,
    tenantId: emulator.tenantId,
    authorityHost: emulator.authorityHost,
    tokenEndpoint: emulator.tokenEndpoint,
    jwksUri: emulator.jwksUri,
    keyVaultUrl: emulator.keyVaultUrl,
    controlUrl: emulator.controlUrl,
    caCertPath,
    broker: { ...emulator.broker },
    scopes: [...emulator.scopes],
    callers: emulator.callers.map((caller) => ({ ...caller })),
    thirdPartyApi: { ...emulator.thirdPartyApi },
    brokerSettings: emulator.brokerSettings(),
  };
  process.stderr.write(`emulator: Entra, managed identity, Key Vault and control on ${emulator.url}\n`);
  process.stderr.write(`emulator: third-party API on ${emulator.thirdPartyApi.url}\n`);

  let stopping = false;
  const stop = (): void => {
    if (stopping) return;
    stopping = true;
    void emulator
      .close()
      .catch(() => undefined)
      .finally(() => process.exit(0));
    setTimeout(() => process.exit(0), 3000).unref();
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  process.on('disconnect', stop);
  // Only now: a parent that reacts by signalling us must find the handlers installed.
  const ready: EmulatorReadyMessage = { event: 'emulator-ready', info };
  process.send?.(ready);
}

void main();
