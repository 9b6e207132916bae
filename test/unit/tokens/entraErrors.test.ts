import { AuthenticationError, AuthenticationRequiredError, CredentialUnavailableError } from '@azure/identity';
import { ClientAuthError, ServerError } from '@azure/msal-node';
import { RestError } from '@azure/core-rest-pipeline';
import { classifyEntraError } from '../../../src/tokens/entraErrors';
import { summarizeUpstreamError } from '../../../src/platform/redact';
import { BrokerError } from '../../../src/contract/errors';
import type { HttpExchange } from '../../../src/tokens/httpExchangeRecorder';

const NOW = Date.UTC(2026, 10, 28, 9, 0, 0);
const SCOPE = 'api://11111111-2222-3333-4444-555555555555/.default';
const CORRELATION = '0b7d3c2e-1111-4222-8333-944445555666';
const TRACE = 'a1b2c3d4-0000-4000-8000-00000000abcd';

interface OAuthError {
  error: string;
  error_description: string;
  error_codes: number[];
}

/** What @azure/identity throws for an Entra error answer: MSAL's ServerError text in an AuthenticationRequiredError. */
function msalServerError(body: OAuthError): AuthenticationRequiredError {
  const text = `Error(s): ${body.error_codes.join(',')} - Timestamp: 2026-11-28 09:00:00Z - Description: ${body.error_description} - Correlation ID: ${CORRELATION} - Trace ID: ${TRACE}`;
  const server = new ServerError(body.error, CORRELATION, text, undefined, String(body.error_codes[0]));
  return new AuthenticationRequiredError({ scopes: [SCOPE], message: server.message });
}

function entraBody(aadsts: number, error: string, what: string): OAuthError {
  return {
    error,
    error_description: `AADSTS${aadsts}: ${what}\r\nTrace ID: ${TRACE}\r\nCorrelation ID: ${CORRELATION}\r\nTimestamp: 2026-11-28 09:00:00Z`,
    error_codes: [aadsts],
  };
}

function exchange(overrides: Partial<HttpExchange>): HttpExchange {
  return {
    method: 'POST',
    path: '/tenant/oauth2/v2.0/token',
    status: undefined,
    retryAfter: undefined,
    contentType: 'application/json; charset=utf-8',
    upstreamError: undefined,
    aadsts: undefined,
    correlationId: undefined,
    traceId: undefined,
    jsonBody: true,
    networkErrorCode: undefined,
    expiresInValid: undefined,
    ...overrides,
  };
}

const CANARY = 'canary-Secret-Value-7f3a9c';

describe('classifyEntraError', () => {
  it('wrong secret (AADSTS7000215 in the message of AuthenticationRequiredError) → entra_credential_rejected', () => {
    const error = msalServerError(
      entraBody(
        7000215,
        'invalid_client',
        `Invalid client secret provided. Ensure the secret being sent is ${CANARY}.`,
      ),
    );
    const classified = classifyEntraError(error, { nowMs: NOW });
    expect(classified).toMatchObject({
      code: 'entra_credential_rejected',
      aadsts: 7000215,
      upstreamError: 'invalid_client',
      correlationId: CORRELATION,
      traceId: TRACE,
    });
    // Upstream text is never copied into our message or the cause.
    expect(classified.message).not.toContain('Invalid client secret');
    expect(classified.message).not.toContain(CANARY);
    expect(JSON.stringify(describeAll(classified))).not.toContain(CANARY);
  });

  it('invalid_client without a known AADSTS code → entra_credential_rejected', () => {
    const error = new AuthenticationRequiredError({
      scopes: [SCOPE],
      message: 'invalid_client: client authentication failed',
    });
    expect(classifyEntraError(error, { nowMs: NOW }).code).toBe('entra_credential_rejected');
  });

  it('a certificate the app does not hold (AADSTS700027) → entra_credential_rejected, so Key Vault is re-read (certificate rotation with revokePrevious)', () => {
    const classified = classifyEntraError(
      msalServerError(entraBody(700027, 'invalid_client', 'Client assertion failed signature validation.')),
      { nowMs: NOW, tokenExchange: exchange({ status: 401, upstreamError: 'invalid_client', aadsts: 700027 }) },
    );
    expect(classified).toMatchObject({ code: 'entra_credential_rejected', aadsts: 700027 });
  });

  it('expired secret (AADSTS7000222) → entra_credential_expired', () => {
    const error = msalServerError(entraBody(7000222, 'invalid_client', 'The provided client secret keys are expired.'));
    expect(classifyEntraError(error, { nowMs: NOW })).toMatchObject({
      code: 'entra_credential_expired',
      aadsts: 7000222,
    });
  });

  it.each([
    [70011, 'invalid_scope'],
    [1002012, 'invalid_scope'],
    [700016, 'unauthorized_client'],
    [90002, 'invalid_request'],
    [70021, 'invalid_request'],
  ])('AADSTS%d (%s) → entra_configuration (no retry)', (aadsts, error) => {
    const classified = classifyEntraError(msalServerError(entraBody(aadsts, error, 'something is wrong')), {
      nowMs: NOW,
      tokenExchange: exchange({ status: 400, upstreamError: error, aadsts }),
    });
    expect(classified).toMatchObject({ code: 'entra_configuration', aadsts, upstreamStatus: 400 });
    expect(classified.message).toContain(`AADSTS${aadsts}`);
  });

  it('AADSTS700027 saying the certificate expired → entra_credential_expired (same alarm as an expired secret)', () => {
    const error = msalServerError(
      entraBody(
        700027,
        'invalid_client',
        'The certificate with identifier used to sign the client assertion is expired on application.',
      ),
    );
    expect(
      classifyEntraError(error, { nowMs: NOW, tokenExchange: exchange({ status: 401, aadsts: 700027 }) }),
    ).toMatchObject({
      code: 'entra_credential_expired',
      aadsts: 700027,
    });
    const structured = new AuthenticationError(
      401,
      entraBody(700027, 'invalid_client', 'The certificate used to sign the client assertion is expired.'),
    );
    expect(classifyEntraError(structured, { nowMs: NOW }).code).toBe('entra_credential_expired');
  });

  it('an unknown 4xx OAuth error → entra_configuration', () => {
    const error = msalServerError(entraBody(50000, 'invalid_request', 'unknown'));
    expect(classifyEntraError(error, { nowMs: NOW, tokenExchange: exchange({ status: 400 }) }).code).toBe(
      'entra_configuration',
    );
  });

  it('AuthenticationError (structured) is read from statusCode and errorResponse', () => {
    const body = {
      ...entraBody(7000215, 'invalid_client', 'bad secret'),
      correlation_id: CORRELATION,
      trace_id: TRACE,
    };
    const error = new AuthenticationError(401, body);
    expect(classifyEntraError(error, { nowMs: NOW })).toMatchObject({
      code: 'entra_credential_rejected',
      upstreamStatus: 401,
      aadsts: 7000215,
      correlationId: CORRELATION,
      traceId: TRACE,
    });
    const unknownTenant = new AuthenticationError(400, entraBody(90002, 'invalid_request', 'Tenant not found'));
    expect(classifyEntraError(unknownTenant, { nowMs: NOW }).code).toBe('entra_configuration');
  });

  it('429 with Retry-After in seconds → entra_throttled with retryAfterSeconds', () => {
    const error = new AuthenticationRequiredError({ scopes: [SCOPE], message: 'temporarily_unavailable: throttled' });
    const classified = classifyEntraError(error, {
      nowMs: NOW,
      tokenExchange: exchange({ status: 429, retryAfter: '17' }),
    });
    expect(classified).toMatchObject({ code: 'entra_throttled', retryAfterSeconds: 17, upstreamStatus: 429 });
  });

  it('429 with Retry-After as an HTTP date → seconds from the injected clock', () => {
    const error = new AuthenticationRequiredError({ scopes: [SCOPE], message: '' });
    const retryAfter = new Date(NOW + 40_000).toUTCString();
    expect(
      classifyEntraError(error, { nowMs: NOW, tokenExchange: exchange({ status: 429, retryAfter }) }),
    ).toMatchObject({
      code: 'entra_throttled',
      retryAfterSeconds: 40,
    });
  });

  it('429 without Retry-After → the 30 s throttling default; an absurd one → capped', () => {
    const error = new AuthenticationRequiredError({ scopes: [SCOPE], message: '' });
    expect(classifyEntraError(error, { nowMs: NOW, tokenExchange: exchange({ status: 429 }) }).retryAfterSeconds).toBe(
      30,
    );
    expect(
      classifyEntraError(error, { nowMs: NOW, tokenExchange: exchange({ status: 429, retryAfter: '999999' }) })
        .retryAfterSeconds,
    ).toBe(300);
  });

  it("MSAL's local throttling refusal (empty message, nothing on the wire) → entra_throttled with the default", () => {
    const refusal = new ServerError('', CORRELATION, undefined, undefined);
    const error = new AuthenticationRequiredError({ scopes: [SCOPE], message: refusal.message });
    expect(classifyEntraError(error, { nowMs: NOW })).toMatchObject({ code: 'entra_throttled', retryAfterSeconds: 30 });
  });

  it.each([500, 502, 503, 504])('HTTP %d → entra_transient', (status) => {
    const error = new AuthenticationRequiredError({ scopes: [SCOPE], message: 'server_error: oops' });
    expect(classifyEntraError(error, { nowMs: NOW, tokenExchange: exchange({ status }) })).toMatchObject({
      code: 'entra_transient',
      upstreamStatus: status,
    });
  });

  it('503 with Retry-After keeps the hint', () => {
    const error = new AuthenticationRequiredError({ scopes: [SCOPE], message: '' });
    expect(
      classifyEntraError(error, { nowMs: NOW, tokenExchange: exchange({ status: 503, retryAfter: '12' }) }),
    ).toMatchObject({ code: 'entra_transient', retryAfterSeconds: 12 });
  });

  it.each(['ECONNREFUSED', 'ECONNRESET', 'UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'SELF_SIGNED_CERT_IN_CHAIN'])(
    'network/TLS failure %s seen on the wire → entra_transient',
    (networkErrorCode) => {
      const network = new ClientAuthError('network_error', 'Network request failed');
      const error = new AuthenticationRequiredError({ scopes: [SCOPE], message: network.message });
      const classified = classifyEntraError(error, {
        nowMs: NOW,
        tokenExchange: exchange({ networkErrorCode, jsonBody: false, contentType: undefined }),
      });
      expect(classified.code).toBe('entra_transient');
      expect(classified.message).toContain(networkErrorCode);
    },
  );

  it('RestError with a network code (no status) → entra_transient', () => {
    const error = new RestError('connect ECONNREFUSED 127.0.0.1:1', { code: 'ECONNREFUSED' });
    expect(classifyEntraError(error, { nowMs: NOW })).toMatchObject({
      code: 'entra_transient',
      upstreamStatus: undefined,
    });
  });

  it('MSAL network_error without wire details → entra_transient', () => {
    const network = new ClientAuthError('network_error', 'Network request failed');
    const error = new AuthenticationRequiredError({ scopes: [SCOPE], message: network.message });
    expect(classifyEntraError(error, { nowMs: NOW }).code).toBe('entra_transient');
  });

  it('a 200 that MSAL could not use (HTML, truncated JSON, no access_token) → entra_malformed_response', () => {
    const network = new ClientAuthError('network_error', 'Network request failed');
    const error = new AuthenticationRequiredError({ scopes: [SCOPE], message: network.message });
    const html = exchange({ status: 200, contentType: 'text/html', jsonBody: false });
    expect(classifyEntraError(error, { nowMs: NOW, tokenExchange: html }).code).toBe('entra_malformed_response');
    const other = new AuthenticationRequiredError({
      scopes: [SCOPE],
      message: 'Response had no "expiresOn" property.',
    });
    expect(classifyEntraError(other, { nowMs: NOW, tokenExchange: exchange({ status: 200 }) }).code).toBe(
      'entra_malformed_response',
    );
  });

  it('a SyntaxError → entra_malformed_response', () => {
    expect(classifyEntraError(new SyntaxError('Unexpected token <'), { nowMs: NOW }).code).toBe(
      'entra_malformed_response',
    );
  });

  it('metadata endpoint failures: 4xx → entra_configuration, 5xx/network → entra_transient', () => {
    const error = new CredentialUnavailableError('endpoints_resolution_error: Endpoints cannot be resolved');
    const metadata = (overrides: Partial<HttpExchange>): HttpExchange =>
      exchange({ method: 'GET', path: '/t/v2.0/.well-known/openid-configuration', ...overrides });
    expect(classifyEntraError(error, { nowMs: NOW, metadataExchange: metadata({ status: 400 }) }).code).toBe(
      'entra_configuration',
    );
    expect(classifyEntraError(error, { nowMs: NOW, metadataExchange: metadata({ status: 503 }) }).code).toBe(
      'entra_transient',
    );
    expect(
      classifyEntraError(error, { nowMs: NOW, metadataExchange: metadata({ networkErrorCode: 'ECONNREFUSED' }) }).code,
    ).toBe('entra_transient');
  });

  it('a failing federated assertion (managed identity) → entra_transient naming the managed identity', () => {
    const miFailure = new CredentialUnavailableError('ManagedIdentityCredential: not available');
    const error = new AuthenticationRequiredError({ scopes: [SCOPE], message: miFailure.message });
    expect(classifyEntraError(error, { nowMs: NOW, assertionFailure: miFailure })).toMatchObject({
      code: 'entra_transient',
      upstreamError: 'managed_identity_unavailable',
    });
  });

  it('a BrokerError passes through unchanged', () => {
    const timeout = new BrokerError('entra_timeout', 'late');
    expect(classifyEntraError(timeout, { nowMs: NOW })).toBe(timeout);
  });

  it('anything else → entra_transient (bounded retries), never internal', () => {
    expect(classifyEntraError(new Error('weird'), { nowMs: NOW }).code).toBe('entra_transient');
    expect(classifyEntraError('a string', { nowMs: NOW }).code).toBe('entra_transient');
    expect(classifyEntraError(undefined, { nowMs: NOW }).code).toBe('entra_transient');
  });
});

describe('summarizeUpstreamError', () => {
  it('keeps name and short codes, drops message, stack and request', () => {
    const error = new RestError(`Error parsing body "{"value":"${CANARY}"`, {
      code: 'PARSE_ERROR',
      statusCode: 200,
    });
    const summary = summarizeUpstreamError(error);
    expect(summary.name).toBe('RestError');
    expect(summary).toMatchObject({ code: 'PARSE_ERROR', statusCode: 200 });
    expect(`${summary.message} ${summary.stack}`).not.toContain(CANARY);
  });
});

function describeAll(error: BrokerError): unknown {
  const cause = error.cause as Error | undefined;
  return { ...error, message: error.message, cause: cause && { ...cause, message: cause.message, stack: cause.stack } };
}
