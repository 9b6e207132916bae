import type { IncomingMessage, ServerResponse } from 'node:http';
import { HttpResponse } from '@azure/functions';
import { toHttpRequest, writeHttpResponse } from '../../../dev/host/httpAdapter';

interface Written {
  status?: number;
  headers?: Record<string, string>;
  body?: string;
}

function fakeResponse(): { res: ServerResponse; written: Written } {
  const written: Written = {};
  const res = {
    headersSent: false,
    writeHead(status: number, headers: Record<string, string>) {
      written.status = status;
      written.headers = headers;
      return this;
    },
    end(body?: Buffer | string) {
      written.body = body === undefined ? undefined : Buffer.from(body).toString('utf8');
    },
  };
  return { res: res as unknown as ServerResponse, written };
}

describe('local host request adapter', () => {
  it('builds an HttpRequest with URL, headers, body and params, keeping repeated query parameters', async () => {
    const incoming = {
      method: 'post',
      url: '/api/token?scope=a&scope=b',
      headers: { authorization: 'Bearer abc', 'content-type': 'application/json', 'x-multi': ['1', '2'] },
    } as unknown as IncomingMessage;
    const request = toHttpRequest(incoming, 'http://127.0.0.1:7071', Buffer.from('{"scope":"x"}'), { id: '1' });
    expect(request.method).toBe('POST');
    expect(request.url).toBe('http://127.0.0.1:7071/api/token?scope=a&scope=b');
    expect(request.query.getAll('scope')).toEqual(['a', 'b']);
    expect(request.headers.get('authorization')).toBe('Bearer abc');
    expect(request.headers.get('x-multi')).toBe('1, 2');
    expect(request.params).toEqual({ id: '1' });
    expect(await request.text()).toBe('{"scope":"x"}');
  });

  it('gives a GET no body', async () => {
    const incoming = { method: 'GET', url: '/api/health', headers: {} } as unknown as IncomingMessage;
    const request = toHttpRequest(incoming, 'http://127.0.0.1:1', Buffer.alloc(0), {});
    expect(await request.text()).toBe('');
  });
});

describe('local host response writer', () => {
  it("writes jsonBody as JSON with the function's headers and status", async () => {
    const { res, written } = fakeResponse();
    await writeHttpResponse(res, {
      status: 403,
      headers: { 'Content-Type': 'application/json; charset=utf-8', 'Cache-Control': 'no-store' },
      jsonBody: { error: 'insufficient_scope' },
    });
    expect(written.status).toBe(403);
    expect(written.headers).toMatchObject({
      'content-type': 'application/json; charset=utf-8',
      'cache-control': 'no-store',
    });
    expect(JSON.parse(written.body!)).toEqual({ error: 'insufficient_scope' });
    expect(written.headers!['content-length']).toBe(String(Buffer.byteLength(written.body!)));
  });

  it('defaults to 200 and application/json for jsonBody, text/plain for a string body', async () => {
    const json = fakeResponse();
    await writeHttpResponse(json.res, { jsonBody: { status: 'ok' } });
    expect(json.written).toMatchObject({
      status: 200,
      headers: { 'content-type': 'application/json' },
      body: '{"status":"ok"}',
    });
    const text = fakeResponse();
    await writeHttpResponse(text.res, { body: 'hi', headers: new Headers({ 'X-A': '1' }) });
    expect(text.written).toMatchObject({
      status: 200,
      headers: { 'content-type': 'text/plain;charset=UTF-8', 'x-a': '1' },
      body: 'hi',
    });
  });

  it('writes an HttpResponse instance (status, headers, body)', async () => {
    const { res, written } = fakeResponse();
    await writeHttpResponse(
      res,
      new HttpResponse({ status: 201, jsonBody: { made: true }, headers: { 'x-made': '1' } }),
    );
    expect(written.status).toBe(201);
    expect(written.headers).toMatchObject({ 'x-made': '1', 'content-type': 'application/json' });
    expect(written.body).toBe('{"made":true}');
  });

  it('sends no body for 204 and for an undefined result sends an empty 200', async () => {
    const noContent = fakeResponse();
    await writeHttpResponse(noContent.res, { status: 204, body: 'ignored' });
    expect(noContent.written).toMatchObject({ status: 204, body: undefined });
    const empty = fakeResponse();
    await writeHttpResponse(empty.res, undefined);
    expect(empty.written).toMatchObject({ status: 200, body: undefined });
  });
});
