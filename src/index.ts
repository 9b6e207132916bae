// Entry point of the function app (package.json `main`, bundled to dist/app/index.js). It is the
// only module that reads process.env: settings are parsed once here and passed down frozen.
import { app } from '@azure/functions';
import { registerFunctions } from './app';
import { createBroker } from './broker';
import { parseConfig } from './contract/config';
import { BrokerError } from './contract/errors';
import { createLogger } from './platform/logger';

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
  // Fetch the caller key set now so the first request on a cold instance does not wait for it —
  // on the next turn of the event loop, so that the fetch's setup (jose, Node's fetch) does not
  // delay the registration the host is waiting for.
  setImmediate(() => void broker.warmUpCallerKeys());
}

start();
