/**
 * The local Azure emulator as a process of its own: `npm run emulator` (until Ctrl-C), and the
 * emulator `npm start` runs (started with an IPC channel).
 * - Ports from EMULATOR_PORT / EMULATOR_THIRD_PARTY_PORT (default 0 = any free port); the broker's
 *   credential kind and name from CLIENT_CREDENTIAL_KIND / CLIENT_CREDENTIAL_NAME.
 * - Writes `ca.pem`, `emulator-info.json` and, last, `emulator.json` (broker settings) to
 *   BROKER_STATE_DIR, or `.local/` in the working directory.
 * - With an IPC channel it reports `{ event: 'emulator-ready', info }` to its parent, prints only
 *   where it listens (the parent prints the rest, without secrets), and exits when the parent goes.
 */
import { mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { EmulatorProcessInfo, EmulatorReadyMessage } from '../emulatorProcess';
import { startEmulator, type CredentialKind, type RunningEmulator } from './index';

function port(name: string): number {
  const value = process.env[name];
  if (value === undefined || value === '') return 0;
  const parsed = Number(value);
  if (!Number.isInteger(parsed) || parsed < 0 || parsed > 65535) {
    throw new Error(`${name} must be a port number (0-65535).`);
  }
  return parsed;
}

function credentialKind(): CredentialKind {
  const value = (process.env.CLIENT_CREDENTIAL_KIND || 'secret').toLowerCase();
  if (value !== 'secret' && value !== 'certificate' && value !== 'federated') {
    throw new Error('CLIENT_CREDENTIAL_KIND must be secret, certificate or federated.');
  }
  return value;
}

/** Written whole then renamed, so a process polling for the file never reads half of it. */
function writeAtomically(file: string, text: string): void {
  writeFileSync(`${file}.tmp`, text);
  renameSync(`${file}.tmp`, file);
}

function processInfo(emulator: RunningEmulator, caCertPath: string): EmulatorProcessInfo {
  return {
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
}

function banner(emulator: RunningEmulator): string {
  const caller = emulator.callers[0]!;
  return [
    'Local Azure emulator is running (127.0.0.1 only). Ctrl-C stops it.',
    '',
    `  Entra authority   ${emulator.authorityHost}  (tenant ${emulator.tenantId})`,
    `  token endpoint    ${emulator.tokenEndpoint}`,
    `  JWKS              ${emulator.jwksUri}`,
    `  Key Vault         ${emulator.keyVaultUrl}  (credential '${emulator.broker.credentialName}', kind ${emulator.broker.credentialKind})`,
    `  managed identity  ${emulator.identityEndpoint}  (client ID ${emulator.managedIdentity.clientId})`,
    `  third-party API   ${emulator.thirdPartyApi.url}`,
    `  control           ${emulator.controlUrl}/stats`,
    `  CA certificate    .local/ca.pem   broker settings: .local/emulator.json`,
    '',
    `  broker app        ${emulator.broker.clientId}  (audience ${emulator.broker.audienceUri} = ${emulator.broker.audience})`,
    `  scopes            ${emulator.scopes.join(', ')}`,
    '  callers:',
    ...emulator.callers.map(
      (c) =>
        `    ${c.name.padEnd(16)} client ID ${c.clientId}  ${c.managedIdentity ? 'managed identity' : `secret ${c.clientSecret}`}  roles [${c.roles.join(', ')}]  allowed [${c.allowedScopes.join(', ')}]`,
    ),
    '',
    `A caller token (${caller.name}) from the emulated Entra:`,
    `  curl --cacert .local/ca.pem -d grant_type=client_credentials -d client_id=${caller.clientId} -d 'client_secret=${caller.clientSecret}' -d scope=${emulator.broker.audienceUri}/.default ${emulator.tokenEndpoint}`,
    '',
  ].join('\n');
}

async function main(): Promise<void> {
  const dir = process.env.BROKER_STATE_DIR ? resolve(process.env.BROKER_STATE_DIR) : join(process.cwd(), '.local');
  // A stale file from an earlier run must not look like "ready" to a process polling for it.
  rmSync(join(dir, 'emulator.json'), { force: true });
  let emulator: RunningEmulator;
  try {
    emulator = await startEmulator({
      port: port('EMULATOR_PORT'),
      thirdPartyPort: port('EMULATOR_THIRD_PARTY_PORT'),
      credentialKind: credentialKind(),
      ...(process.env.CLIENT_CREDENTIAL_NAME ? { credentialName: process.env.CLIENT_CREDENTIAL_NAME } : {}),
    });
  } catch (error) {
    if ((error as { code?: string }).code === 'EADDRINUSE') {
      throw new Error(
        'a port it needs is already in use (EMULATOR_PORT / EMULATOR_THIRD_PARTY_PORT). ' +
          'Stop whatever holds it, or leave them unset to use free ports.',
        { cause: error },
      );
    }
    throw error;
  }
  mkdirSync(dir, { recursive: true });
  const caFile = join(dir, 'ca.pem');
  writeAtomically(caFile, emulator.caPem);
  writeAtomically(join(dir, 'emulator-info.json'), JSON.stringify(emulator.info(), null, 2));
  // Last: its presence means the emulator is up and the two files above are complete.
  writeAtomically(
    join(dir, 'emulator.json'),
    JSON.stringify({ ...emulator.brokerSettings(), caCertFile: caFile }, null, 2),
  );

  let closing = false;
  const stop = (): void => {
    if (closing) return;
    closing = true;
    emulator.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
    setTimeout(() => process.exit(0), 3000).unref();
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);

  if (process.send) {
    process.stderr.write(`emulator: Entra, managed identity, Key Vault and control on ${emulator.url}\n`);
    process.stderr.write(`emulator: third-party API on ${emulator.thirdPartyApi.url}\n`);
    process.on('disconnect', stop);
    // Only now: a parent that reacts by signalling us must find the handlers installed.
    const ready: EmulatorReadyMessage = { event: 'emulator-ready', info: processInfo(emulator, caFile) };
    process.send(ready);
  } else {
    console.log(banner(emulator));
  }
}

main().catch((error: unknown) => {
  console.error(`emulator: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
});
