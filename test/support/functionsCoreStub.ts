// jest maps `@azure/functions-core` here (jest.config.js), so tests can read what the app registered.
import { functionsCoreStub } from '../../dev/host/functionRegistry';

module.exports = functionsCoreStub;
