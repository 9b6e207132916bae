/**
 * `npm run emulator`: runs the local Azure emulator on its own until Ctrl-C.
 * Ports come from EMULATOR_PORT / EMULATOR_THIRD_PARTY_PORT (default 0 = any free port); the
 * broker's credential kind from CLIENT_CREDENTIAL_KIND (secret | certificate | federated).
 */
import { mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startEmulator } from './index';
import type { CredentialKind } from './index';

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
  const value = process.env.CLIENT_CREDENTIAL_KIND ?? 'secret';
  if (value !== 'secret' && value !== 'certificate' && value !== 'federated') {
    throw new Error('CLIENT_CREDENTIAL_KIND must be secret, certificate or federated.');
  }
  return value;
}

async function main(): Promise<void> {
  const dir = join(process.cwd(), '.local');
  // A stale file from an earlier run must not look like "ready" to a parent process.
  rmSync(join(dir, 'emulator.json'), { force: true });
  const emulator = await startEmulator({
    port: port('EMULATOR_PORT'),
    thirdPartyPort: port('EMULATOR_THIRD_PARTY_PORT'),
    credentialKind: credentialKind(),
    ...(process.env.CLIENT_CREDENTIAL_NAME ? { credentialName: process.env.CLIENT_CREDENTIAL_NAME } : {}),
  });
  mkdirSync(dir, { recursive: true });
  const caFile = join(dir, 'ca.pem');
  // Written whole then renamed, so a parent process polling for them never reads half a file.
  const writeAtomically = (file: string, text: string): void => {
    writeFileSync(`${file}.tmp`, text);
    renameSync(`${file}.tmp`, file);
  };
  writeAtomically(caFile, emulator.caPem);
  writeAtomically(join(dir, 'emulator-info.json'), JSON.stringify(emulator.info(), null, 2));
  // Last: its presence means the emulator is up and the two files above are complete.
  writeAtomically(
    join(dir, 'emulator.json'),
    JSON.stringify({ ...emulator.brokerSettings(), caCertFile: caFile }, null, 2),
  );

  const caller = emulator.callers[0]!;
  const lines = [
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
        `    ${c.name.padEnd(16)} client ID ${c.clientId}  secret ${c.clientSecret}  roles [${c.roles.join(', ')}]  allowed [${c.allowedScopes.join(', ')}]`,
    ),
    '',
    `A caller token (${caller.name}) from the emulated Entra:`,
    `  curl --cacert .local/ca.pem -d grant_type=client_credentials -d client_id=${caller.clientId} -d 'client_secret=${caller.clientSecret}' -d scope=${emulator.broker.audienceUri}/.default ${emulator.tokenEndpoint}`,
    '',
  ];
  console.log(lines.join('\n'));

  let closing = false;
  const stop = (): void => {
    if (closing) return;
    closing = true;
    emulator.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

main().catch((error: unknown) => {
  console.error(`emulator: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
});
