/**
 * The real runtime's baseline: a function app with the broker's two HTTP routes that does nothing
 * but read the request and answer a fixed JSON the size of a token response. Served by the same
 * `func`, with the same host.json and settings as the broker, so that what is left between the two
 * is the broker's own work. `BENCH_HTTP_STREAM=true` turns on the HTTP streaming mode of
 * @azure/functions (the broker's side of that lever is brokerStreamApp.ts).
 * `BENCH_FIXTURE_AUDIT_LINE=true` adds what the broker cannot leave out: one JSON log line per token
 * request, of the size of the broker's `TokenRequest` audit line, through the invocation context.
 */
import { app } from '@azure/functions';
import { ROUTED_METHODS } from '../src/app';

if (process.env.BENCH_HTTP_STREAM === 'true') app.setup({ enableHttpStream: true });

// A token response as the broker writes it: a JWT of about the emulator's size, the same fields.
const body = JSON.stringify({
  token_type: 'Bearer',
  access_token: 'x'.repeat(1300),
  expires_in: 3599,
  expires_on: 1_900_000_000,
  scope: 'api://00000000-0000-0000-0000-000000000000/.default',
  refresh_in: 1500,
});
// The broker's audit line as it reaches the host (src/http/tokenRequestHandler.ts), same fields and size.
const auditLine = JSON.stringify({
  time: new Date().toISOString(),
  level: 'info',
  component: 'broker.TokenEndpoint',
  event: 'TokenRequest',
  method: 'POST',
  status: 200,
  tid: '00000000-0000-0000-0000-000000000000',
  azp: '00000000-0000-0000-0000-000000000000',
  oid: '00000000-0000-0000-0000-000000000000',
  tokenHash: '000000000000',
  scope: 'api://00000000-0000-0000-0000-000000000000/.default',
  cacheHit: true,
  latencyMs: 0,
});
const writeAuditLine = process.env.BENCH_FIXTURE_AUDIT_LINE === 'true';
const headers = { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' };

app.http('token', {
  route: 'token',
  methods: [...ROUTED_METHODS],
  authLevel: 'anonymous',
  handler: async (request, context) => {
    await request.text();
    if (writeAuditLine) context.info(auditLine);
    return { status: 200, headers, body };
  },
});

app.http('health', {
  route: 'health',
  methods: [...ROUTED_METHODS],
  authLevel: 'anonymous',
  handler: () => Promise.resolve({ status: 200, jsonBody: { status: 'healthy' } }),
});
