/**
 * The broker with the HTTP streaming mode of @azure/functions on (when `BENCH_HTTP_STREAM=true`):
 * `app.setup` must run before any function is registered, so it comes first and the broker's own
 * entry point is loaded after it. Only the benchmark builds this; the deployed app is src/index.ts.
 */
import { app } from '@azure/functions';

if (process.env.BENCH_HTTP_STREAM === 'true') app.setup({ enableHttpStream: true });
// eslint-disable-next-line @typescript-eslint/no-require-imports -- must load after app.setup
require('../src/index');
