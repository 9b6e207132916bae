/**
 * Secrets hygiene for the front door alone: a canary secret placed wherever an upstream failure
 * or a caller could put it (error causes, messages, request bodies, query strings, headers) goes
 * through every path of the token and health handlers; no log line, response body or header holds
 * the canary, a JWT, `client_secret=` or the Authorization value that was sent.
 */
import { randomUUID } from 'node:crypto';
import { BrokerError } from '../../../src/contract/errors';
import { createHealthHandler } from '../../../src/http/healthHandler';
import type { CoreHttpResponse } from '../../../src/http/httpTypes';
import { createFrontDoor, request, SCOPE_B } from '../../support/frontDoorFixture';

const CANARY = `canary-${randomUUID()}`;

class UpstreamHttpError extends Error {
  // Shaped like an SDK error whose request options hold the form body.
  readonly request = { body: `client_id=x&client_secret=${CANARY}&grant_type=client_credentials` };
  constructor() {
    super(`Request failed: client_secret=${CANARY} Authorization: Bearer eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiIxIn0.sig`);
  }
}

describe('front door canary', () => {
  it('never writes the canary, a JWT, client_secret= or an Authorization value anywhere', async () => {
    const f = createFrontDoor({ settings: { CALLER_RATE_LIMIT_PER_MINUTE: '60' } });
    f.tokens.accessToken = `access-${CANARY}`;
    const good = f.jwt.sign();
    const sentTokens = [good];
    const responses: CoreHttpResponse[] = [];
    const send = async (init: Parameters<typeof request>[0]): Promise<CoreHttpResponse> => {
      const response = await f.handle(request(init));
      responses.push(response);
      return response;
    };
    const url = (query: string): string => `http://127.0.0.1:7071/api/token?${query}`;
    const auth = (token: string): Record<string, string> => ({ Authorization: `Bearer ${token}` });

    // Success (the one place an access token may appear: the 200 body's access_token).
    expect((await send({ headers: auth(good) })).status).toBe(200);
    // 401s: missing, Basic with the canary, malformed, forged, expired.
    const forged = [f.jwt.unsigned(), f.jwt.hs256WithPublicKey(), f.jwt.sign(f.jwt.claims({ exp: 1 }))];
    sentTokens.push(...forged);
    await send({});
    await send({ headers: { Authorization: `Basic ${CANARY}` } });
    await send({ headers: auth(`${CANARY}.${CANARY}.${CANARY}`) });
    for (const token of forged) await send({ headers: auth(token) });
    // 400s with the canary in the query, body and scope.
    await send({ url: url(`access_token=${CANARY}`), headers: auth(good) });
    await send({ url: url(`scope=${CANARY}`), headers: auth(good) });
    await send({
      method: 'POST',
      headers: { ...auth(good), 'Content-Type': 'application/x-www-form-urlencoded' },
      body: `client_secret=${CANARY}&scope=${CANARY}/.default&scope=x`,
    });
    await send({
      method: 'POST',
      headers: { ...auth(good), 'Content-Type': 'application/json' },
      body: `{"scope":"${CANARY}`,
    });
    // 403, 405, 413, 415.
    await send({ url: url(`scope=${encodeURIComponent(SCOPE_B)}`), headers: auth(good) });
    const delegated = f.jwt.sign(f.jwt.claims({ scp: CANARY }));
    sentTokens.push(delegated);
    await send({ headers: auth(delegated) });
    await send({ method: CANARY });
    await send({ method: 'POST', headers: { ...auth(good), 'Content-Length': '99999' } });
    await send({ method: 'POST', headers: { ...auth(good), 'Content-Type': `text/${CANARY}` }, body: CANARY });
    // 503 with upstream text and causes holding the canary.
    f.tokens.failure = new BrokerError('entra_credential_rejected', 'Entra refused the credential.', {
      cause: new UpstreamHttpError(),
      upstreamError: 'invalid_client',
      retryAfterSeconds: 30,
    });
    await send({ headers: auth(good) });
    // 500: a bug whose message and request options hold the canary.
    f.tokens.failure = new UpstreamHttpError();
    await send({ headers: auth(good) });
    f.tokens.failure = undefined;
    // 429.
    for (let i = 0; i < 61; i++) await send({ headers: auth(good) });
    // Keys unavailable (503).
    const cold = createFrontDoor();
    cold.jwks.mode = 'network';
    responses.push(await cold.handle(request({ headers: auth(good) })));
    // Health, throwing provider.
    const health = createHealthHandler({
      tokens: {
        health: () => {
          throw new UpstreamHttpError();
        },
      },
      logger: f.logs.logger,
    });
    responses.push(await health(request({ url: 'http://127.0.0.1:7071/api/health' })));

    const statuses = new Set(responses.map((response) => response.status));
    for (const status of [200, 400, 401, 403, 405, 413, 415, 429, 500, 503]) expect(statuses).toContain(status);

    const logText = [...f.logs.lines, ...cold.logs.lines].join('\n');
    const responseText = responses
      .map((response) => {
        const body = JSON.parse(response.body) as Record<string, unknown>;
        if (response.status === 200) delete body.access_token;
        return JSON.stringify({ headers: response.headers, body });
      })
      .join('\n');
    for (const text of [logText, responseText]) {
      expect(text.split('\n').filter((line) => line.includes(CANARY))).toEqual([]);
      expect(text).not.toMatch(/eyJ[A-Za-z0-9_-]{10,}/);
      // The logger drops the whole credential parameter; no value may follow a parameter name either.
      expect(text).not.toContain('client_secret=');
      for (const token of sentTokens) {
        const signature = token.split('.')[2] ?? '';
        if (signature.length > 8) expect(text).not.toContain(signature);
      }
    }
    // Every request was audited, on one line each.
    expect(f.logs.events('TokenRequest').length).toBe(responses.length - 2);
    expect(f.logs.lines.every((line) => !line.includes('\n'))).toBe(true);
  });
});
