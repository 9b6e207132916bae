import { createServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { jwtVerify } from 'jose';
import { v1Issuer, v2Issuer } from './entra';
import { bearerToken, sendJson } from './http';
import type { SigningKeys } from './signingKeys';

export interface ThirdPartyApiOptions {
  tenantId: string;
  /** The API app's client ID: the `aud` of v2 tokens issued for it. */
  audience: string;
  identifierUri: string;
  keys: SigningKeys;
  now: () => number;
}

/** The stand-in third-party API: accepts only valid tokens issued by the emulated Entra for its audience. */
export function createThirdPartyApi(options: ThirdPartyApiOptions): Server {
  return createServer((req, res) => {
    handle(req, res, options).catch(() => {
      if (!res.headersSent) sendJson(res, 500, { error: 'server_error' });
      else res.destroy();
    });
  });
}

async function handle(req: IncomingMessage, res: ServerResponse, options: ThirdPartyApiOptions): Promise<void> {
  const url = new URL(req.url ?? '/', 'http://127.0.0.1');
  if (url.pathname !== '/api/data') {
    sendJson(res, 404, { error: 'not_found' });
    return;
  }
  if (req.method !== 'GET') {
    sendJson(res, 405, { error: 'method_not_allowed' }, { Allow: 'GET' });
    return;
  }
  const token = bearerToken(req);
  if (!token) {
    sendJson(
      res,
      401,
      { error: 'invalid_token', error_description: 'A bearer token is required.' },
      { 'WWW-Authenticate': 'Bearer' },
    );
    return;
  }
  try {
    const { payload } = await jwtVerify(token, options.keys.keyResolver(), {
      algorithms: ['RS256'],
      issuer: [v2Issuer(options.tenantId), v1Issuer(options.tenantId)],
      audience: [options.audience, options.identifierUri],
      currentDate: new Date(options.now()),
    });
    if (payload.idtyp !== 'app') throw new Error('not an app-only token');
    sendJson(res, 200, {
      data: [
        { id: 1, name: 'host-001', severity: 'low' },
        { id: 2, name: 'host-002', severity: 'high' },
      ],
      caller: { appId: payload.azp ?? payload.appid, tenantId: payload.tid, roles: payload.roles ?? [] },
    });
  } catch {
    sendJson(
      res,
      401,
      { error: 'invalid_token', error_description: 'The access token is not valid for this API.' },
      { 'WWW-Authenticate': 'Bearer error="invalid_token"' },
    );
  }
}
