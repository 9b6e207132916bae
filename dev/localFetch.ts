import http from 'node:http';
import https from 'node:https';

export interface LocalResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  text: string;
  /** The body parsed as JSON, or undefined when it is not JSON. */
  json: unknown;
}

export interface LocalRequest {
  method?: string;
  headers?: Record<string, string>;
  body?: string;
  /** PEM of the CA to trust for https:// (the emulator's); http:// ignores it. */
  ca?: string;
  timeoutMs?: number;
}

/**
 * A small fetch over node:http(s) that trusts the emulator's CA explicitly — `NODE_EXTRA_CA_CERTS`
 * is read only at process start, and global fetch takes no CA. Refuses anything but 127.0.0.1.
 * @throws Error on network failure, timeout, or a non-local URL.
 */
export function localFetch(url: string, options: LocalRequest = {}): Promise<LocalResponse> {
  const target = new URL(url);
  if (target.hostname !== '127.0.0.1' && target.hostname !== 'localhost') {
    return Promise.reject(new Error(`localFetch only talks to 127.0.0.1, not ${target.hostname}`));
  }
  const client = target.protocol === 'https:' ? https : http;
  const headers: Record<string, string> = { ...options.headers };
  if (options.body !== undefined) headers['content-length'] = String(Buffer.byteLength(options.body));
  return new Promise((resolve, reject) => {
    const req = client.request(
      target,
      { method: options.method ?? 'GET', headers, ca: options.ca, agent: false, timeout: options.timeoutMs ?? 15_000 },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('error', reject);
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let json: unknown;
          try {
            json = JSON.parse(text);
          } catch {
            json = undefined;
          }
          resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json });
        });
      },
    );
    req.on('timeout', () => req.destroy(new Error(`request to ${target.origin}${target.pathname} timed out`)));
    req.on('error', reject);
    req.end(options.body);
  });
}
