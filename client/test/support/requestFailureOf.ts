import { BrokerRequestError } from '../../src';

/** The BrokerRequestError `promise` rejects with (asserted to be one); throws if it resolves. */
export async function requestFailureOf(promise: Promise<unknown>): Promise<BrokerRequestError> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(BrokerRequestError);
    return error as BrokerRequestError;
  }
  throw new Error('expected a BrokerRequestError');
}
