import type { IncomingHttpHeaders } from 'node:http';
import { ManagedIdentityCredential } from '@azure/identity';
import type { RunningEmulator } from '../../../dev/emulator';
import { localFetch } from '../../../dev/localFetch';

export interface JsonAnswer {
  status: number;
  headers: IncomingHttpHeaders;
  text: string;
  // Tests poke at error bodies of several shapes.
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  body: any;
}

/** JSON over HTTPS trusting the emulator's CA: `localFetch` (dev/) with form/JSON body helpers. */
export async function httpsJson(
  url: string,
  options: {
    ca: string;
    method?: string;
    form?: Record<string, string | undefined>;
    json?: unknown;
    headers?: Record<string, string>;
  },
): Promise<JsonAnswer> {
  let body: string | undefined;
  const headers: Record<string, string> = { ...options.headers };
  if (options.form) {
    const params = new URLSearchParams();
    for (const [key, value] of Object.entries(options.form)) if (value !== undefined) params.set(key, value);
    body = params.toString();
    headers['Content-Type'] = 'application/x-www-form-urlencoded';
  } else if (options.json !== undefined) {
    body = JSON.stringify(options.json);
    headers['Content-Type'] = 'application/json';
  }
  const answer = await localFetch(url, {
    method: options.method ?? (body !== undefined ? 'POST' : 'GET'),
    headers,
    body,
    ca: options.ca,
  });
  return { status: answer.status, headers: answer.headers, text: answer.text, body: answer.json };
}

/** The emulator's managed identity (user-assigned: its client ID keeps MSAL's process-wide MI cache per emulator). */
export function miCredential(emulator: RunningEmulator): ManagedIdentityCredential {
  return new ManagedIdentityCredential(emulator.managedIdentity.clientId, { tlsOptions: { ca: emulator.caPem } });
}

/** @azure/identity options for a credential that talks to the emulated Entra. */
export const sdkOptions = (emulator: RunningEmulator) => ({
  authorityHost: emulator.authorityHost,
  disableInstanceDiscovery: true,
  tlsOptions: { ca: emulator.caPem },
});

export { withIdentityEnv } from '../../support/identityEnv';
