import { request } from 'node:https';
import type { IncomingHttpHeaders } from 'node:http';
import { ManagedIdentityCredential } from '@azure/identity';
import type { RunningEmulator } from '../../../dev/emulator';

export interface JsonAnswer {
  status: number;
  headers: IncomingHttpHeaders;
  text: string;
  // Tests poke at error bodies of several shapes.
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  body: any;
}

/** A tiny node:https client that trusts the emulator's CA (fetch cannot take a CA). */
export function httpsJson(
  url: string,
  options: {
    ca: string;
    method?: string;
    form?: Record<string, string | undefined>;
    json?: unknown;
    headers?: Record<string, string>;
  },
): Promise<JsonAnswer> {
  let payload: string | undefined;
  const headers: Record<string, string | number> = { ...options.headers };
  if (options.form) {
    const params = new URLSearchParams();
    for (const [key, value] of Object.entries(options.form)) if (value !== undefined) params.set(key, value);
    payload = params.toString();
    headers['Content-Type'] = 'application/x-www-form-urlencoded';
  } else if (options.json !== undefined) {
    payload = JSON.stringify(options.json);
    headers['Content-Type'] = 'application/json';
  }
  if (payload !== undefined) headers['Content-Length'] = Buffer.byteLength(payload);
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      { method: options.method ?? (payload !== undefined ? 'POST' : 'GET'), ca: options.ca, headers, agent: false },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let body: unknown;
          try {
            body = JSON.parse(text);
          } catch {
            body = undefined;
          }
          resolve({ status: res.statusCode ?? 0, headers: res.headers, text, body });
        });
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(payload);
  });
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
