/**
 * The broker with its one audit line per request dropped instead of written through the invocation
 * context. Not something to deploy (the line is required: docs/functions-runtime.md), but the
 * measure of what the broker's own work per request costs on the real runtime apart from that line
 * (`realNoAuditLine*` in realHost.ts). Composed as src/index.ts composes the broker; only the
 * benchmark builds it.
 */
import { app } from '@azure/functions';
import { registerFunctions } from '../src/app';
import { createBroker } from '../src/broker';
import { parseConfig } from '../src/contract/config';

const broker = createBroker(parseConfig(process.env));
const dropLine = (): void => undefined;
registerFunctions(app, {
  ...broker,
  handleTokenRequest: (request) => broker.handleTokenRequest(request, dropLine),
});
setImmediate(() => void broker.prefetch());
