import type { BrokerConfig } from '../contract/config';
import type { ClientCredential, CredentialSource } from './credentialTypes';

/**
 * The credential source of `federated` mode: nothing is stored and nothing is read — the managed
 * identity itself is the credential — so there is one constant credential with no expiry.
 */
export function createFederatedCredentialSource(config: BrokerConfig): CredentialSource {
  const credential: ClientCredential = Object.freeze({
    kind: 'federated',
    properties: Object.freeze({
      name: config.credentialName,
      kind: 'federated',
      version: 'federated',
      enabled: true,
      expiresOnMs: undefined,
      notBeforeMs: undefined,
      createdOnMs: undefined,
      updatedOnMs: undefined,
    }),
  });
  return {
    current: () => Promise.resolve(credential),
    peek: () => credential,
    latestProperties: () => Promise.resolve(credential.properties),
    load: () => Promise.resolve(credential),
    promote: () => undefined,
  };
}
