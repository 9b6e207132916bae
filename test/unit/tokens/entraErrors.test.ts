import { CredentialUnavailableError } from '@azure/identity';
import { ClientAuthError, ClientConfigurationError, ServerError } from '@azure/msal-node';
import {
  classifyAssertionFailure,
  classifyMetadataAnswer,
  classifyMsalError,
  classifyTokenEndpointAnswer,
  classifyTransportFailure,
  isFederatedMismatch,
  type TokenEndpointAnswer,
} from '../../../src/tokens/entraErrors';
import { BrokerError } from '../../../src/contract/errors';

const NOW = Date.UTC(2026, 10, 28, 9, 0, 0);
const CORRELATION = '0b7d3c2e-1111-4222-8333-944445555666';
const TRACE = 'a1b2c3d4-0000-4000-8000-00000000abcd';
const CANARY = 'canary-Secret-Value-7f3a9c';

/** An Entra OAuth error answer, shaped as Entra sends it. */
function entraError(status: number, aadsts: number, error: string, what: string): TokenEndpointAnswer {
  return {
    status,
    retryAfter: undefined,
    body: {
      error,
      error_description: `AADSTS${aadsts}: ${what}\r\nTrace ID: ${TRACE}\r\nCorrelation ID: ${CORRELATION}\r\nTimestamp: 2026-11-28 09:00:00Z`,
      error_codes: [aadsts],
      timestamp: '2026-11-28 09:00:00Z',
      trace_id: TRACE,
      correlation_id: CORRELATION,
    },
  };
}

function classify(answer: TokenEndpointAnswer): BrokerError {
  const classified = classifyTokenEndpointAnswer(answer, NOW);
  if (classified === undefined) throw new Error('expected a failure');
  return classified;
}

describe('classifyTokenEndpointAnswer: Entra error answers', () => {
  it('wrong secret (401 invalid_client, AADSTS7000215) → entra_credential_rejected with the structured fields', () => {
    const classified = classify(
      entraError(401, 7000215, 'invalid_client', `Invalid client secret provided. It was ${CANARY}.`),
    );
    expect(classified).toMatchObject({
      code: 'entra_credential_rejected',
      upstreamStatus: 401,
      aadsts: 7000215,
      upstreamError: 'invalid_client',
      correlationId: CORRELATION,
      traceId: TRACE,
    });
    // Upstream text is never copied into our message.
    expect(JSON.stringify({ ...classified, message: classified.message })).not.toContain(CANARY);
  });

  it('invalid_client without a known AADSTS code → entra_credential_rejected', () => {
    expect(classify({ status: 401, retryAfter: undefined, body: { error: 'invalid_client' } }).code).toBe(
      'entra_credential_rejected',
    );
  });

  it('a certificate the app does not hold (AADSTS700027) → entra_credential_rejected, so Key Vault is re-read', () => {
    expect(
      classify(entraError(401, 700027, 'invalid_client', 'Client assertion failed signature validation.')).code,
    ).toBe('entra_credential_rejected');
  });

  it('AADSTS700027 saying the certificate expired → entra_credential_expired (same alarm as an expired secret)', () => {
    const answer = entraError(
      401,
      700027,
      'invalid_client',
      'The certificate with identifier X is expired on application.',
    );
    expect(classify(answer).code).toBe('entra_credential_expired');
  });

  it('expired secret (AADSTS7000222) → entra_credential_expired', () => {
    expect(
      classify(entraError(401, 7000222, 'invalid_client', 'The provided client secret keys are expired.')).code,
    ).toBe('entra_credential_expired');
  });

  it.each([
    [70021, 400, 'invalid_grant'],
    [700211, 401, 'invalid_client'],
    [700212, 401, 'invalid_client'],
    [700213, 401, 'invalid_client'],
    [70021380, 401, 'invalid_client'],
  ])(
    'federated credential mismatch AADSTS%d (%d %s) → entra_configuration, never a rejected credential',
    (aadsts, status, error) => {
      const classified = classify(entraError(status, aadsts, error, 'No matching federated identity record found.'));
      expect(classified).toMatchObject({ code: 'entra_configuration', aadsts, upstreamStatus: status });
      expect(classified.message).toContain('federated credential');
    },
  );

  it('isFederatedMismatch covers the listed codes and the 7002138 family, nothing else', () => {
    expect([70021, 700021, 700211, 700212, 700213, 7002138, 70021381].every(isFederatedMismatch)).toBe(true);
    expect([7000215, 700027, 70011, 7002139].some(isFederatedMismatch)).toBe(false);
  });

  it.each([
    [70011, 'invalid_scope'],
    [1002012, 'invalid_scope'],
    [500011, 'invalid_resource'],
    [700016, 'unauthorized_client'],
    [90002, 'invalid_request'],
    [700024, 'invalid_client'],
  ])('AADSTS%d (%s) → entra_configuration', (aadsts, error) => {
    expect(classify(entraError(400, aadsts, error, 'x')).code).toBe('entra_configuration');
  });

  it('an unknown 4xx OAuth error → entra_configuration; an unknown 4xx without a body too', () => {
    expect(classify(entraError(400, 123456, 'weird_error', 'x')).code).toBe('entra_configuration');
    expect(classify({ status: 404, retryAfter: undefined, body: undefined })).toMatchObject({
      code: 'entra_configuration',
      upstreamStatus: 404,
    });
  });
});

describe('classifyTokenEndpointAnswer: throttling and transient answers', () => {
  it('429 with a plain-text body and Retry-After in seconds → entra_throttled with retryAfterSeconds', () => {
    expect(classify({ status: 429, retryAfter: '7', body: undefined })).toMatchObject({
      code: 'entra_throttled',
      upstreamStatus: 429,
      retryAfterSeconds: 7,
    });
  });

  it('429 with Retry-After as an HTTP date → seconds from the injected clock', () => {
    const date = new Date(NOW + 42_000).toUTCString();
    expect(classify({ status: 429, retryAfter: date, body: undefined }).retryAfterSeconds).toBe(42);
  });

  it('429 without Retry-After → the 30 s throttling default; an absurd one → capped at 300', () => {
    expect(classify({ status: 429, retryAfter: undefined, body: undefined }).retryAfterSeconds).toBe(30);
    expect(classify({ status: 429, retryAfter: '86400', body: undefined }).retryAfterSeconds).toBe(300);
  });

  it.each([500, 502, 503, 504])('HTTP %d → entra_transient', (status) => {
    expect(classify({ status, retryAfter: undefined, body: undefined })).toMatchObject({
      code: 'entra_transient',
      upstreamStatus: status,
      retryAfterSeconds: undefined,
    });
  });

  it('503 with Retry-After keeps the hint; AADSTS90033 is transient whatever the status', () => {
    expect(classify({ status: 503, retryAfter: '12', body: undefined }).retryAfterSeconds).toBe(12);
    expect(classify(entraError(400, 90033, 'temporarily_unavailable', 'x')).code).toBe('entra_transient');
  });

  it('408 → entra_transient', () => {
    expect(classify({ status: 408, retryAfter: undefined, body: undefined }).code).toBe('entra_transient');
  });
});

describe('classifyTokenEndpointAnswer: 2xx answers', () => {
  it('a usable token response → undefined', () => {
    const body = { token_type: 'Bearer', access_token: 'eyJ.a.b', expires_in: 3599 };
    expect(classifyTokenEndpointAnswer({ status: 200, retryAfter: undefined, body }, NOW)).toBeUndefined();
    const asText = { ...body, expires_in: '3599' };
    expect(classifyTokenEndpointAnswer({ status: 200, retryAfter: undefined, body: asText }, NOW)).toBeUndefined();
  });

  it.each([
    ['HTML (no JSON object)', undefined],
    ['no access_token', { token_type: 'Bearer', expires_in: 3599 }],
    ['an empty access_token', { access_token: '', expires_in: 3599 }],
    ['no expires_in', { access_token: 'eyJ.a.b' }],
    ['expires_in 0', { access_token: 'eyJ.a.b', expires_in: 0 }],
    ['expires_in "abc"', { access_token: 'eyJ.a.b', expires_in: 'abc' }],
    ['expires_in "3599abc"', { access_token: 'eyJ.a.b', expires_in: '3599abc' }],
    ['expires_in 1.5', { access_token: 'eyJ.a.b', expires_in: 1.5 }],
  ])('a 200 with %s → entra_malformed_response', (_what, body) => {
    expect(classify({ status: 200, retryAfter: undefined, body })).toMatchObject({
      code: 'entra_malformed_response',
      upstreamStatus: 200,
    });
  });
});

describe('the other failures of a token request', () => {
  it.each(['ECONNREFUSED', 'ECONNRESET', 'UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'SELF_SIGNED_CERT_IN_CHAIN'])(
    'no answer (%s, from fetch or node:https) → entra_transient naming the code',
    (code) => {
      const fromFetch = new TypeError('fetch failed', { cause: Object.assign(new Error('x'), { code }) });
      expect(classifyTransportFailure(fromFetch, 'The Entra token request')).toMatchObject({
        code: 'entra_transient',
        upstreamError: code,
      });
      const fromHttps = Object.assign(new Error('x'), { code });
      expect(classifyTransportFailure(fromHttps, 'The Entra token request').upstreamError).toBe(code);
    },
  );

  it('OpenID metadata: 4xx → entra_configuration, 408/429/5xx → entra_transient', () => {
    expect(classifyMetadataAnswer(400).code).toBe('entra_configuration');
    expect(classifyMetadataAnswer(404).code).toBe('entra_configuration');
    for (const status of [408, 429, 500, 503]) expect(classifyMetadataAnswer(status).code).toBe('entra_transient');
  });

  it("MSAL's endpoints_resolution_error takes the metadata failure our client saw", () => {
    const seen = classifyMetadataAnswer(400);
    const error = new ClientAuthError('endpoints_resolution_error', 'x');
    expect(classifyMsalError(error, seen)).toBe(seen);
    expect(classifyMsalError(error, undefined).code).toBe('entra_transient');
  });

  it('a configuration MSAL refuses → entra_configuration; anything else → entra_transient, never internal', () => {
    expect(classifyMsalError(new ClientConfigurationError('url_parse_error', 'x'), undefined).code).toBe(
      'entra_configuration',
    );
    expect(classifyMsalError(new Error('surprise'), undefined).code).toBe('entra_transient');
    expect(classifyMsalError('a string', undefined).code).toBe('entra_transient');
  });

  it('a BrokerError passes through unchanged', () => {
    const timeout = new BrokerError('entra_timeout', 'late');
    expect(classifyMsalError(timeout, undefined)).toBe(timeout);
    expect(classifyAssertionFailure(timeout)).toBe(timeout);
  });
});

describe('classifyAssertionFailure (the federated assertion from the managed identity)', () => {
  it('the endpoint refusing (4xx in the structured cause) → managed_identity_unavailable naming AZURE_CLIENT_ID', () => {
    const refused = new CredentialUnavailableError('ManagedIdentityCredential: Authentication failed.', {
      cause: new ServerError('', CORRELATION, 'x', undefined, undefined, 400),
    });
    const classified = classifyAssertionFailure(refused);
    expect(classified).toMatchObject({ code: 'managed_identity_unavailable', upstreamStatus: 400 });
    expect(classified.message).toContain('AZURE_CLIENT_ID');
  });

  it('unreachable or 5xx → entra_transient (managed_identity_unavailable), so it is retried', () => {
    const unreachable = new CredentialUnavailableError('ManagedIdentityCredential: Network unreachable.', {
      cause: new ClientAuthError('network_error', 'x'),
    });
    expect(classifyAssertionFailure(unreachable)).toMatchObject({
      code: 'entra_transient',
      upstreamError: 'managed_identity_unavailable',
    });
    const failing = new CredentialUnavailableError('x', {
      cause: new ServerError('', CORRELATION, 'x', undefined, undefined, 503),
    });
    expect(classifyAssertionFailure(failing)).toMatchObject({ code: 'entra_transient', upstreamStatus: 503 });
  });
});
