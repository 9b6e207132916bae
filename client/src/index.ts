/**
 * @entra-token-broker/client — what a workload needs to get its tokens from entra-token-broker.
 * Everything else in this folder is private.
 */
export { BrokerCredential, type BrokerCredentialOptions } from './brokerCredential';
export { BrokerRequestError, type BrokerRequestErrorCode, type UnauthorizedCause } from './errors';
export type { RetryOptions } from './retryPolicy';
