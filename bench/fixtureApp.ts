/**
 * The real runtime's baseline: a function app with the broker's two HTTP routes that does nothing
 * but read the request and answer a fixed JSON the size of a token response. Served by the same
 * `func`, with the same host.json and settings as the broker, so that what is left between the two
 * is the broker's own work. `BENCH_HTTP_STREAM=true` turns on the HTTP streaming mode of
 * @azure/functions (the broker's side of that lever is brokerStreamApp.ts).
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
const headers = { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' };

app.http('token', {
  route: 'token',
  methods: [...ROUTED_METHODS],
  authLevel: 'anonymous',
  handler: async (request) => {
    await request.text();
    return { status: 200, headers, body };
  },
});

app.http('health', {
  route: 'health',
  methods: [...ROUTED_METHODS],
  authLevel: 'anonymous',
  handler: () => Promise.resolve({ status: 200, jsonBody: { status: 'healthy' } }),
});
