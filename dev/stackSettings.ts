import { BROKER_SETTING_NAMES } from '../src/contract/config';
import type { EmulatorProcessInfo } from './emulatorProcess';
import type { BrokerHostKind, StackCaller, StackFile } from './stackFile';

/** The settings a broker is configured by (and that `npm start`'s environment may override). */
export { BROKER_SETTING_NAMES } from '../src/contract/config';

/** Managed identity endpoint settings (App Service protocol) the broker also gets. */
const IDENTITY_SETTING_NAMES = ['IDENTITY_ENDPOINT', 'IDENTITY_HEADER'] as const;

/**
 * The broker process's whole environment: the emulator's settings, overlaid by any broker
 * setting present in `overrides` (npm start's own environment), plus the CA to trust and the port.
 * Nothing else from the parent leaks in, so the broker runs on exactly what Azure would give it.
 */
export function brokerEnvironment(
  emulatorSettings: Readonly<Record<string, string>>,
  overrides: NodeJS.ProcessEnv,
  extra: { caCertPath: string; port: number },
): Record<string, string> {
  const env: Record<string, string> = {};
  for (const name of [...BROKER_SETTING_NAMES, ...IDENTITY_SETTING_NAMES]) {
    const value = emulatorSettings[name];
    if (value !== undefined) env[name] = value;
  }
  for (const name of BROKER_SETTING_NAMES) {
    const value = overrides[name];
    if (value !== undefined) env[name] = value;
  }
  env.NODE_EXTRA_CA_CERTS = extra.caCertPath;
  env.PORT = String(extra.port);
  return env;
}

/** The scope a caller asks the emulated Entra for to get a token for the broker. */
export function callerTokenScope(caller: { audience: string }): string {
  return caller.audience.endsWith('/.default') ? caller.audience : `${caller.audience.replace(/\/+$/, '')}/.default`;
}

/** What a caller may get according to the broker's effective CALLER_POLICY (not a second source of truth). */
function allowedScopesOf(clientId: string, policyJson: string | undefined): string[] {
  if (!policyJson) return [];
  try {
    const policy = JSON.parse(policyJson) as Record<string, unknown>;
    const entry = Object.entries(policy).find(([id]) => id.toLowerCase() === clientId.toLowerCase());
    return entry && Array.isArray(entry[1]) ? entry[1].filter((s): s is string => typeof s === 'string') : [];
  } catch {
    return [];
  }
}

/** `.local/stack.json` for a running emulator and broker (docs/development.md). */
export function buildStackFile(
  info: EmulatorProcessInfo,
  brokerEnv: Readonly<Record<string, string>>,
  brokerUrl: string,
  caCertFile: string,
  host: BrokerHostKind,
): StackFile {
  const callers: StackCaller[] = info.callers.map((caller) => ({
    name: caller.name,
    clientId: caller.clientId,
    clientSecret: caller.clientSecret,
    audience: caller.audience,
    allowedScopes: allowedScopesOf(caller.clientId, brokerEnv.CALLER_POLICY),
  }));
  const scopes = (brokerEnv.TOKEN_SCOPES ?? info.scopes.join(','))
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  return {
    broker: { url: brokerUrl, host },
    entra: {
      authorityHost: info.authorityHost,
      tenantId: info.tenantId,
      tokenEndpoint: info.tokenEndpoint,
      jwksUri: info.jwksUri,
    },
    keyVault: { url: info.keyVaultUrl, credentialName: brokerEnv.CLIENT_CREDENTIAL_NAME || info.broker.credentialName },
    caCertFile,
    scopes,
    callers,
    thirdPartyApi: { url: info.thirdPartyApi.url },
    control: { url: info.controlUrl },
  };
}
