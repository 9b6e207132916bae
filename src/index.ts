// Entry point of the function app (package.json `main`, bundled to dist/app/index.js). It is the
// only module that reads process.env: settings are parsed once here and passed down frozen.
import { app } from '@azure/functions';
import { registerFunctions, registerHttpFunctions } from './app';
import { createBroker } from './broker';
import { type BrokerConfig, parseConfig } from './contract/config';
import { BrokerError } from './contract/errors';
import { createUnavailableHandlers } from './http/unavailableHandlers';
import { reportBrokenConfiguration } from './operations/brokenConfiguration';
import { createLogger, processLogSink } from './platform/logger';

function start(): void {
  // The broker's lines go to stdout/stderr; a request's own lines go through its invocation's
  // context (the HTTP adapter hands the handler a sink for them, src/functions/invocationLog.ts).
  const logSink = processLogSink;
  let config: BrokerConfig;
  try {
    config = parseConfig(process.env);
  } catch (error) {
    if (!(error instanceof BrokerError && error.code === 'config_invalid')) throw error;
    // A module that throws here leaves the host running with no functions: callers and probes
    // would get 404. Serve 503 instead, and say in the log (again and again) what to fix.
    reportBrokenConfiguration({ logger: createLogger({ sink: logSink }), message: error.message });
    registerHttpFunctions(app, createUnavailableHandlers());
    return;
  }
  const broker = createBroker(config, { logSink });
  registerFunctions(app, broker);
  // Start what the first request on a cold instance would wait for (caller keys, managed identity,
  // Key Vault, the first tokens) now, all at once — on the next turn of the event loop, so that
  // loading jose and the Azure SDK does not delay the registration the host is waiting for.
  setImmediate(() => void broker.prefetch());
}

start();
