import type { EmulatorCaller } from './emulator/index';

/** What the emulator process (`dev/emulator/main.ts`, started by `npm start`) reports over IPC once it listens. */
export interface EmulatorProcessInfo {
  url: string;
  tenantId: string;
  authorityHost: string;
  tokenEndpoint: string;
  jwksUri: string;
  keyVaultUrl: string;
  controlUrl: string;
  /** Absolute path of the CA certificate it wrote. */
  caCertPath: string;
  broker: { clientId: string; credentialName: string; credentialKind: string; audience: string; audienceUri: string };
  scopes: string[];
  callers: EmulatorCaller[];
  thirdPartyApi: { url: string; audience: string };
  /** Broker settings (+ IDENTITY_ENDPOINT, IDENTITY_HEADER, AZURE_CLIENT_ID) for a broker. */
  brokerSettings: Record<string, string>;
}

export interface EmulatorReadyMessage {
  event: 'emulator-ready';
  info: EmulatorProcessInfo;
}

export function asEmulatorReady(message: unknown): EmulatorProcessInfo | undefined {
  const m = message as Partial<EmulatorReadyMessage> | null;
  return m && m.event === 'emulator-ready' && m.info ? m.info : undefined;
}
