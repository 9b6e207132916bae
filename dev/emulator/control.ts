import type { IncomingMessage, ServerResponse } from 'node:http';
import type { FaultSpec } from './faults';
import type { RunningEmulator } from './emulatorTypes';
import { parseFaultSpec } from './faults';
import type { FaultTarget } from './faults';
import { parseLatencySpec } from './latency';
import { readBody, sendJson } from './http';

export const CONTROL_PREFIX = '/_emulator';

/**
 * What the control API drives: the running emulator's own drill methods, plus the fault list.
 */
export type ControlTarget = Pick<
  RunningEmulator,
  | 'stats'
  | 'info'
  | 'setFault'
  | 'clearFaults'
  | 'setLatency'
  | 'clearLatency'
  | 'reset'
  | 'rotate'
  | 'setSecretEnabled'
  | 'revokeCredential'
  | 'expireCredentialInEntra'
  | 'setFederatedSubject'
  | 'rollSigningKeys'
> & {
  listFaults(): FaultSpec[];
  listLatency(): Partial<Record<FaultTarget, number>>;
};

/**
 * Control API (docs/development.md): stats, faults, rotate, reset, plus drills
 * (`POST /secrets/{version}/disable|enable`, `POST /credentials/{version}/revoke|expire`,
 * `POST /signing-keys/roll`, `GET /faults`, `GET /info`), and `GET/POST/DELETE /latency` (see latency.ts).
 */
export async function handleControl(
  req: IncomingMessage,
  res: ServerResponse,
  path: string,
  target: ControlTarget,
): Promise<void> {
  const route = path.slice(CONTROL_PREFIX.length) || '/';
  const method = req.method ?? 'GET';
  const bodyText = method === 'POST' ? await readBody(req) : '';
  let body: unknown = {};
  if (bodyText) {
    try {
      body = JSON.parse(bodyText);
    } catch {
      sendJson(res, 400, { error: 'invalid_json' });
      return;
    }
  }
  const bad = (message: string): void => sendJson(res, 400, { error: 'invalid_request', message });
  try {
    if (method === 'GET' && route === '/stats') return sendJson(res, 200, target.stats());
    if (method === 'GET' && (route === '/info' || route === '/')) return sendJson(res, 200, target.info());
    if (route === '/faults') {
      if (method === 'GET') return sendJson(res, 200, { faults: target.listFaults() });
      if (method === 'DELETE') {
        target.clearFaults();
        return sendJson(res, 200, { faults: [] });
      }
      if (method === 'POST') {
        const spec = parseFaultSpec(body);
        if (typeof spec === 'string') return bad(spec);
        target.setFault(spec);
        return sendJson(res, 201, { faults: target.listFaults() });
      }
    }
    if (route === '/latency') {
      if (method === 'GET') return sendJson(res, 200, { latency: target.listLatency() });
      if (method === 'DELETE') {
        target.clearLatency();
        return sendJson(res, 200, { latency: {} });
      }
      if (method === 'POST') {
        const spec = parseLatencySpec(body);
        if (typeof spec === 'string') return bad(spec);
        target.setLatency(spec);
        return sendJson(res, 200, { latency: target.listLatency() });
      }
    }
    if (method === 'POST' && route === '/reset') {
      target.reset();
      return sendJson(res, 200, target.stats());
    }
    if (method === 'POST' && route === '/rotate') {
      const options = parseRotate(body);
      if (typeof options === 'string') return bad(options);
      return sendJson(res, 201, await target.rotate(options));
    }
    if (method === 'POST' && route === '/signing-keys/roll') return sendJson(res, 201, await target.rollSigningKeys());
    const secret = /^\/secrets\/([^/]+)\/(disable|enable)$/.exec(route);
    if (method === 'POST' && secret) {
      target.setSecretEnabled(decodeURIComponent(secret[1]!), secret[2] === 'enable');
      return sendJson(res, 200, { version: secret[1], enabled: secret[2] === 'enable' });
    }
    const credential = /^\/credentials\/([^/]+)\/(revoke|expire)$/.exec(route);
    if (method === 'POST' && credential) {
      const version = decodeURIComponent(credential[1]!);
      if (credential[2] === 'revoke') target.revokeCredential(version);
      else target.expireCredentialInEntra(version);
      return sendJson(res, 200, { version, [credential[2] === 'revoke' ? 'revoked' : 'expired']: true });
    }
    if (method === 'POST' && route === '/federated') {
      const subject = (body as { subject?: unknown }).subject;
      if (typeof subject !== 'string' || subject === '') return bad('Send {"subject": "..."}.');
      target.setFederatedSubject(subject);
      return sendJson(res, 200, { subject });
    }
    sendJson(res, 404, { error: 'not_found', message: `No control route ${method} ${route}` });
  } catch (error) {
    sendJson(res, 409, { error: 'conflict', message: error instanceof Error ? error.message : String(error) });
  }
}

function parseRotate(
  body: unknown,
): { name?: string; expiresInDays?: number | null; revokePrevious?: boolean; enabled?: boolean } | string {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) return 'the body must be a JSON object';
  const b = body as Record<string, unknown>;
  const options: { name?: string; expiresInDays?: number | null; revokePrevious?: boolean; enabled?: boolean } = {};
  if (b.name !== undefined) {
    if (typeof b.name !== 'string' || !/^[0-9a-zA-Z-]{1,127}$/.test(b.name))
      return 'name must be a Key Vault object name';
    options.name = b.name;
  }
  if (b.expiresInDays !== undefined) {
    if (b.expiresInDays !== null && typeof b.expiresInDays !== 'number')
      return 'expiresInDays must be a number or null';
    options.expiresInDays = b.expiresInDays;
  }
  if (b.revokePrevious !== undefined) {
    if (typeof b.revokePrevious !== 'boolean') return 'revokePrevious must be a boolean';
    options.revokePrevious = b.revokePrevious;
  }
  if (b.enabled !== undefined) {
    if (typeof b.enabled !== 'boolean') return 'enabled must be a boolean';
    options.enabled = b.enabled;
  }
  return options;
}
