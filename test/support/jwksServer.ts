/**
 * A stand-in for a tenant's keys endpoint (`/{tenant}/discovery/v2.0/keys`) before or besides the
 * emulator. `fetch` serves the key set in memory (no sockets, for unit tests); `listen()` serves the
 * same over plain HTTP on 127.0.0.1 for tests that want a real socket. It counts requests so tests
 * can assert that an expected fetch happened (or that a flood did not).
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { JWK } from 'jose';

export type JwksMode = 'ok' | 'status' | 'network' | 'hang' | 'malformed';

export class JwksEndpoint {
  /** The keys published right now. */
  keys: JWK[];
  mode: JwksMode = 'ok';
  status = 500;
  /** Every fetch, whatever the mode. */
  requests = 0;
  /** URL of every fetch, to prove that nothing else (a `jku`, an `x5u`) was ever fetched. */
  readonly urls: string[] = [];
  readonly uri: string;

  constructor(keys: JWK[] = [], uri = 'https://login.microsoftonline.com/tenant/discovery/v2.0/keys') {
    this.keys = keys;
    this.uri = uri;
  }

  /** A `fetch` for CallerAuthenticator's `fetch` option. */
  readonly fetch: typeof fetch = async (input, init) => {
    this.requests++;
    this.urls.push(input instanceof Request ? input.url : String(input));
    switch (this.mode) {
      case 'ok':
        return new Response(JSON.stringify({ keys: this.keys }), {
          status: 200,
          headers: { 'content-type': 'application/json' },
        });
      case 'status':
        return new Response('{"error":"unavailable"}', { status: this.status });
      case 'malformed':
        return new Response('<html>oops</html>', { status: 200, headers: { 'content-type': 'text/html' } });
      case 'network':
        throw new TypeError('fetch failed');
      case 'hang':
        return new Promise<Response>((_resolve, reject) => {
          const signal = init?.signal;
          if (!signal) return;
          signal.addEventListener('abort', () => reject(signal.reason as Error), { once: true });
        });
    }
  };

  /** Serves the key set over HTTP on 127.0.0.1:0; resolves with the URL and a closer. */
  async listen(): Promise<{ url: string; close(): Promise<void> }> {
    const server: Server = createServer((request, response) => {
      void this.fetch(request.url ?? '/').then(
        async (answer) => {
          response.writeHead(answer.status, { 'content-type': answer.headers.get('content-type') ?? 'text/plain' });
          response.end(await answer.text());
        },
        () => request.socket.destroy(),
      );
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    return {
      url: `http://127.0.0.1:${port}/tenant/discovery/v2.0/keys`,
      close: () =>
        new Promise<void>((resolve) => {
          server.closeAllConnections();
          server.close(() => resolve());
        }),
    };
  }
}
