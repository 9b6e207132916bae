/** Awaiting something that must be refused with a BrokerError, for tests that look at the error. */
import { BrokerError, type BrokerErrorCode } from '../../src/contract/errors';

/** The BrokerError `promise` rejects with (asserted to be one); throws if it resolves. */
export async function failureOf(promise: Promise<unknown>): Promise<BrokerError> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(BrokerError);
    return error as BrokerError;
  }
  throw new Error('expected a BrokerError');
}

/** The code of the BrokerError `promise` rejects with (see failureOf). */
export async function codeOf(promise: Promise<unknown>): Promise<BrokerErrorCode> {
  return (await failureOf(promise)).code;
}
