import { BrokerError, type BrokerErrorCode } from '../../../src/contract/errors';
import { errorResponse, serverErrorResponse, toHttpError } from '../../../src/http/httpResponses';
import { MAX_RETRY_AFTER_SECONDS } from '../../../src/contract/retryAfter';
import { expectContractHeaders, LogCapture, parseBody } from '../../support/frontDoorFixture';

// Every code with its expected status: adding a code to BrokerErrorCode breaks compilation here
// until its HTTP mapping is decided (the Record must be complete).
const EXPECTED: Record<BrokerErrorCode, [number, string]> = {
  config_invalid: [500, 'server_error'],
  internal: [500, 'server_error'],
  request_invalid: [400, 'invalid_request'],
  method_not_allowed: [405, 'invalid_request'],
  payload_too_large: [413, 'invalid_request'],
  unsupported_media_type: [415, 'invalid_request'],
  caller_token_missing: [401, 'invalid_token'],
  caller_token_invalid: [401, 'invalid_token'],
  caller_forbidden: [403, 'insufficient_scope'],
  caller_rate_limited: [429, 'slow_down'],
  caller_keys_unavailable: [503, 'temporarily_unavailable'],
  entra_credential_rejected: [503, 'temporarily_unavailable'],
  entra_credential_expired: [503, 'temporarily_unavailable'],
  entra_configuration: [503, 'temporarily_unavailable'],
  entra_throttled: [503, 'temporarily_unavailable'],
  entra_transient: [503, 'temporarily_unavailable'],
  entra_timeout: [503, 'temporarily_unavailable'],
  entra_malformed_response: [503, 'temporarily_unavailable'],
  keyvault_forbidden: [503, 'temporarily_unavailable'],
  keyvault_not_found: [503, 'temporarily_unavailable'],
  keyvault_disabled: [503, 'temporarily_unavailable'],
  keyvault_throttled: [503, 'temporarily_unavailable'],
  managed_identity_unavailable: [503, 'temporarily_unavailable'],
  keyvault_transient: [503, 'temporarily_unavailable'],
  keyvault_timeout: [503, 'temporarily_unavailable'],
  credential_invalid: [503, 'temporarily_unavailable'],
  token_lifetime_too_short: [503, 'temporarily_unavailable'],
};

describe('toHttpError', () => {
  it.each(Object.entries(EXPECTED))('maps %s to %j', (code, [status, error]) => {
    const mapped = toHttpError(new BrokerError(code as BrokerErrorCode, 'Upstream said: secret-ish text'));
    expect(mapped.status).toBe(status);
    expect(mapped.error).toBe(error);
    if (status >= 500) expect(mapped.description).not.toContain('Upstream said');
  });

  it('sets the contract headers per status', () => {
    expect(toHttpError(new BrokerError('caller_token_missing', 'm')).headers).toEqual({ 'WWW-Authenticate': 'Bearer' });
    expect(toHttpError(new BrokerError('caller_token_invalid', 'm')).headers).toEqual({
      'WWW-Authenticate': 'Bearer error="invalid_token"',
    });
    expect(toHttpError(new BrokerError('caller_forbidden', 'm')).headers).toEqual({
      'WWW-Authenticate': 'Bearer error="insufficient_scope"',
    });
    expect(toHttpError(new BrokerError('method_not_allowed', 'm')).headers).toEqual({ Allow: 'GET, POST' });
    expect(toHttpError(new BrokerError('method_not_allowed', 'm'), { allowedMethods: ['GET'] }).headers).toEqual({
      Allow: 'GET',
    });
    expect(toHttpError(new BrokerError('caller_rate_limited', 'm', { retryAfterSeconds: 2.1 })).headers).toEqual({
      'Retry-After': '3',
    });
  });

  it.each([
    [undefined, '5'],
    [0, '5'],
    [-3, '5'],
    [Number.NaN, '5'],
    [Number.POSITIVE_INFINITY, '5'],
    [0.2, '1'],
    [17, '17'],
    [1e9, String(MAX_RETRY_AFTER_SECONDS)],
  ])('gives a 503 Retry-After of whole seconds (%p → %s)', (retryAfterSeconds, expected) => {
    const mapped = toHttpError(new BrokerError('entra_throttled', 'm', { retryAfterSeconds }));
    expect(mapped.headers).toEqual({ 'Retry-After': expected });
  });

  it.each([new Error('boom'), 'a string', undefined, { code: 'request_invalid' }])(
    'turns anything else (%p) into a bare 500, logged once with its stack',
    (thrown) => {
      const logs = new LogCapture();
      const mapped = toHttpError(thrown, { logger: logs.logger });
      expect(mapped).toEqual({
        status: 500,
        error: 'server_error',
        description: 'The broker failed unexpectedly.',
        headers: {},
      });
      expect(logs.events('UnexpectedError')).toHaveLength(1);
    },
  );

  it('keeps the front door’s own descriptions but never sends non-ASCII or overlong text', () => {
    expect(toHttpError(new BrokerError('request_invalid', 'The scope is empty.')).description).toBe(
      'The scope is empty.',
    );
    expect(toHttpError(new BrokerError('request_invalid', 'bad\r\nX: y')).description).toBe('bad??X: y');
    expect(toHttpError(new BrokerError('request_invalid', 'x'.repeat(1000))).description.length).toBe(300);
  });
});

describe('errorResponse / serverErrorResponse', () => {
  it('builds RFC 6749 §5.2 JSON with the contract headers', () => {
    const response = errorResponse(new BrokerError('caller_forbidden', 'No.'));
    expectContractHeaders(response);
    expect(response.headers['WWW-Authenticate']).toBe('Bearer error="insufficient_scope"');
    expect(parseBody(response)).toEqual({ error: 'insufficient_scope', error_description: 'No.' });
  });

  it('does not let extra headers override the contract headers', () => {
    const response = serverErrorResponse();
    expectContractHeaders(response);
    expect(parseBody(response)).toEqual({
      error: 'server_error',
      error_description: 'The broker failed unexpectedly.',
    });
  });
});
