import type * as BrokerModule from '../../src/broker';
import { parseConfig } from '../../src/contract/config';
import { DEPLOYMENT_SETTINGS } from '../support/fakes/fakeConfig';

describe('createBroker', () => {
  // Regression guard for the cold start: the Azure SDKs (msal-node, Key Vault, node-forge) are most
  // of the app's code and are loaded on the first token or Key Vault request, jose on the first
  // caller key fetch — not with the broker.
  it.each(['secret', 'certificate', 'federated'])(
    'does not load the Azure SDK or jose while the broker is created (%s credential)',
    (kind) => {
      const azureSdk = jest.fn(() => {
        throw new Error('the Azure SDK was loaded while the broker was created');
      });
      const jose = jest.fn(() => {
        throw new Error('jose was loaded while the broker was created');
      });
      jest.isolateModules(() => {
        jest.doMock('../../src/platform/lazyAzureSdk', () => ({ azureSdk }));
        jest.doMock('../../src/callers/lazyJose', () => ({ jose }));
        for (const sdkModule of [
          '@azure/identity',
          '@azure/keyvault-secrets',
          '@azure/keyvault-certificates',
          'node-forge',
          'jose',
        ]) {
          jest.doMock(sdkModule, () => {
            throw new Error(`${sdkModule} was loaded while the broker was created`);
          });
        }
        // eslint-disable-next-line @typescript-eslint/no-require-imports -- a fresh registry with the mock needs require()
        const { createBroker } = require('../../src/broker') as typeof BrokerModule;
        const broker = createBroker(parseConfig({ ...DEPLOYMENT_SETTINGS, CLIENT_CREDENTIAL_KIND: kind }), {
          logSink: () => undefined,
        });
        expect(typeof broker.handleTokenRequest).toBe('function');
      });
      expect(azureSdk).not.toHaveBeenCalled();
      expect(jose).not.toHaveBeenCalled();
    },
  );
});
