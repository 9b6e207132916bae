/**
 * A stand-in broker on 127.0.0.1 for the client's unit tests: it answers `/api/token` from a script
 * of answers (the last one repeats) and records every request, so a test can say exactly how many
 * the client made and what they carried.
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { AccessToken, GetTokenOptions, TokenCredential } from '@azure/core-auth';

export interface FakeAnswer {
  status: number;
  body?: unknown;
  headers?: Record<string, string>;
  /** Hold the answer back until this promise settles. */
  holdUntil?: Promise<unknown>;
}

export interface RecordedRequest {
  method: string;
  url: string;
  authorization: string | undefined;
  contentType: string | undefined;
  body: string;
}

export interface FakeBroker {
  url: string;
  requests: RecordedRequest[];
  /** Answers to give, in order; the last one is given again to any further request. */
  script(...answers: FakeAnswer[]): void;
  close(): Promise<void>;
}

let served = 0;

/** A 200 as the broker gives it; each one carries a different access token. */
export function tokenAnswer(options: { expiresIn?: number; refreshIn?: number; scope?: string } = {}): FakeAnswer {
  served += 1;
  const expiresIn = options.expiresIn ?? 3600;
  return {
    status: 200,
    body: {
      token_type: 'Bearer',
      access_token: fakeJwt({ aud: 'third-party', n: served }),
      expires_in: expiresIn,
      expires_on: Math.floor(Date.now() / 1000) + expiresIn,
      scope: options.scope ?? 'api://third-party/.default',
      refresh_in: options.refreshIn ?? 1800,
    },
  };
}

export function errorAnswer(status: number, error: string, description: string, retryAfter?: string): FakeAnswer {
  return {
    status,
    body: { error, error_description: description },
    headers: retryAfter === undefined ? {} : { 'Retry-After': retryAfter },
  };
}

/** A JWT-shaped string (unsigned: the fake broker never verifies). */
export function fakeJwt(claims: Record<string, unknown>): string {
  const part = (value: unknown): string => Buffer.from(JSON.stringify(value)).toString('base64url');
  return `${part({ alg: 'RS256', typ: 'JWT' })}.${part(claims)}.c2lnbmF0dXJlLW5vdC1jaGVja2Vk`;
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

export async function startFakeBroker(): Promise<FakeBroker> {
  let answers: FakeAnswer[] = [tokenAnswer()];
  const requests: RecordedRequest[] = [];
  const server: Server = createServer((req, res) => {
    void (async () => {
      const body = await readBody(req);
      requests.push({
        method: req.method ?? '',
        url: req.url ?? '',
        authorization: req.headers.authorization,
        contentType: req.headers['content-type'],
        body,
      });
      const answer = (answers.length > 1 ? answers.shift() : answers[0]) as FakeAnswer;
      if (answer.holdUntil) await answer.holdUntil.catch(() => undefined);
      res.writeHead(answer.status, { 'content-type': 'application/json', ...answer.headers });
      res.end(answer.body === undefined ? '' : JSON.stringify(answer.body));
    })().catch(() => res.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    script: (...next) => {
      answers = next;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** The workload's own credential: counts acquisitions, hands out a token for `audience`. */
export class FakeCallerCredential implements TokenCredential {
  calls = 0;
  scopes: string[] = [];
  failWith: Error | undefined;
  readonly token: string;

  constructor(
    audience = 'api://entra-token-broker',
    private readonly expiresOnTimestamp = Date.now() + 3_600_000,
  ) {
    this.token = fakeJwt({ aud: audience, appid: 'workload', exp: Math.floor(expiresOnTimestamp / 1000) });
  }

  async getToken(scopes: string | string[], _options?: GetTokenOptions): Promise<AccessToken | null> {
    this.calls += 1;
    this.scopes.push(...(Array.isArray(scopes) ? scopes : [scopes]));
    await new Promise((resolve) => setImmediate(resolve));
    if (this.failWith) throw this.failWith;
    return { token: this.token, expiresOnTimestamp: this.expiresOnTimestamp };
  }
}

/** A clock the test moves by hand. */
export class ManualClock {
  constructor(public nowMs = Date.now()) {}
  readonly now = (): number => this.nowMs;
  advance(ms: number): void {
    this.nowMs += ms;
  }
}
