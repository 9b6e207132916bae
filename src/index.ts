// Entry point of the function app (package.json `main`, bundled to dist/app/index.js). It is the
// only module that reads process.env: settings are parsed once here and passed down frozen.
import { app } from '@azure/functions';
import { registerFunctions } from './app';
import { createBroker } from './core/broker';
import { parseConfig } from './core/config';
import { BrokerError } from './core/errors';
import { createLogger } from './core/logger';

function start(): void {
  let config;
  try {
    config = parseConfig(process.env);
  } catch (error) {
    if (error instanceof BrokerError && error.code === 'config_invalid') {
      createLogger({ component: 'Startup' }).error('ConfigurationInvalid', { message: error.message });
    }
    // Failing the module load stops the worker from indexing functions: the app never serves
    // with a broken configuration.
    throw error;
  }
  const broker = createBroker(config);
  registerFunctions(app, broker);
  // Start what the first request on a cold instance would wait for (caller keys, managed identity,
  // Key Vault, the first tokens) now, all at once — on the next turn of the event loop, so that
  // loading jose and the Azure SDK does not delay the registration the host is waiting for.
  setImmediate(() => void broker.prefetch());
}

start();
