import type { IncomingMessage, ServerResponse } from 'node:http';
import type { FaultSpec } from './faults';
import type { BrokerApiSettings, RunningEmulator } from './emulatorTypes';
import type { RotateOptions } from './brokerCredentials';
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
  | 'setFederatedCredential'
  | 'setManagedIdentityAssigned'
  | 'setKeyVaultPaging'
  | 'configureBrokerApi'
  | 'rollSigningKeys'
  | 'publishSigningKey'
> & {
  listFaults(): FaultSpec[];
  listLatency(): Partial<Record<FaultTarget, number>>;
};

/**
 * Control API (docs/development.md): stats, faults, rotate, reset, plus drills
 * (`POST /secrets/{version}/disable|enable`, `POST /credentials/{version}/revoke|expire`,
 * `POST /signing-keys/roll|publish`, `POST /federated`, `POST /managed-identities/{clientId}/assign|unassign`,
 * `POST /keyvault/paging`, `POST /apps/broker-api`, `GET /faults`, `GET /info`), and `GET/POST/DELETE /latency` (see latency.ts).
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
    if (method === 'POST' && route === '/signing-keys/publish') {
      return sendJson(res, 201, await target.publishSigningKey());
    }
    const identity = /^\/managed-identities\/([^/]+)\/(assign|unassign)$/.exec(route);
    if (method === 'POST' && identity) {
      const clientId = decodeURIComponent(identity[1]!);
      target.setManagedIdentityAssigned(clientId, identity[2] === 'assign');
      return sendJson(res, 200, { clientId, assigned: identity[2] === 'assign' });
    }
    if (method === 'POST' && route === '/keyvault/paging') {
      const paging = parseNumbers(body, ['pageSize', 'emptyPages']);
      if (typeof paging === 'string') return bad(paging);
      return sendJson(res, 200, target.setKeyVaultPaging(paging));
    }
    if (method === 'POST' && route === '/apps/broker-api') {
      const settings = parseBrokerApi(body);
      if (typeof settings === 'string') return bad(settings);
      return sendJson(res, 200, target.configureBrokerApi(settings));
    }
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
      const change: Record<string, string> = {};
      for (const field of ['subject', 'issuer', 'audience'] as const) {
        const value = (body as Record<string, unknown>)[field];
        if (value === undefined) continue;
        if (typeof value !== 'string' || value === '') return bad(`${field} must be a non-empty string.`);
        change[field] = value;
      }
      if (Object.keys(change).length === 0) return bad('Send {"subject": "..."} (or issuer, audience).');
      target.setFederatedCredential(change);
      return sendJson(res, 200, change);
    }
    sendJson(res, 404, { error: 'not_found', message: `No control route ${method} ${route}` });
  } catch (error) {
    sendJson(res, 409, { error: 'conflict', message: error instanceof Error ? error.message : String(error) });
  }
}

function parseNumbers<K extends string>(body: unknown, fields: readonly K[]): Partial<Record<K, number>> | string {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) return 'the body must be a JSON object';
  const parsed: Partial<Record<K, number>> = {};
  for (const field of fields) {
    const value = (body as Record<string, unknown>)[field];
    if (value === undefined) continue;
    if (typeof value !== 'number' || !Number.isInteger(value)) return `${field} must be a whole number`;
    parsed[field] = value;
  }
  return parsed;
}

function parseBrokerApi(body: unknown): BrokerApiSettings | string {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) return 'the body must be a JSON object';
  const b = body as Record<string, unknown>;
  const settings: BrokerApiSettings = {};
  if (b.accessTokenVersion !== undefined) {
    if (b.accessTokenVersion !== 1 && b.accessTokenVersion !== 2) return 'accessTokenVersion must be 1 or 2';
    settings.accessTokenVersion = b.accessTokenVersion;
  }
  for (const field of ['idtypClaim', 'appRoleAssignmentRequired'] as const) {
    if (b[field] === undefined) continue;
    if (typeof b[field] !== 'boolean') return `${field} must be a boolean`;
    settings[field] = b[field];
  }
  return settings;
}

function parseRotate(body: unknown): RotateOptions | string {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) return 'the body must be a JSON object';
  const b = body as Record<string, unknown>;
  const options: RotateOptions = {};
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
  if (b.activationDelaySeconds !== undefined) {
    if (typeof b.activationDelaySeconds !== 'number' || b.activationDelaySeconds < 0 || b.activationDelaySeconds > 3600)
      return 'activationDelaySeconds must be a number of seconds from 0 to 3600';
    options.activationDelaySeconds = b.activationDelaySeconds;
  }
  return options;
}
