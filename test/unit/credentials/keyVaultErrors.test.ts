import { AuthenticationError, CredentialUnavailableError } from '@azure/identity';
import { RestError, createHttpHeaders, createPipelineRequest } from '@azure/core-rest-pipeline';
import { BrokerError } from '../../../src/contract/errors';
import { classifyKeyVaultError } from '../../../src/credentials/keyVaultErrors';

const NOW = Date.UTC(2026, 10, 28, 9, 0, 0);
const VAULT = 'https://127.0.0.1:8443';
const CANARY = 'canary-kv-Value-91c0ffee';

/** A RestError as core-client builds it from a Key Vault error answer. */
function keyVaultError(status: number, body: unknown, headers: Record<string, string> = {}): RestError {
  const request = createPipelineRequest({
    url: `${VAULT}/secrets/entra-client-secret?api-version=7.6`,
    headers: createHttpHeaders({ authorization: 'Bearer eyJhbGciOiJSUzI1NiJ9.e30.sig' }),
  });
  const bodyAsText = typeof body === 'string' ? body : JSON.stringify(body);
  const response = { status, request, headers: createHttpHeaders(headers), bodyAsText };
  const error = new RestError(typeof body === 'string' ? body : 'Key Vault said no', {
    statusCode: status,
    request,
    response,
  });
  const parsed = (body as { error?: { code?: string } } | undefined)?.error;
  if (parsed?.code) error.code = parsed.code;
  return error;
}

describe('classifyKeyVaultError', () => {
  it('403 Forbidden (RBAC) → keyvault_forbidden', () => {
    const error = keyVaultError(403, {
      error: { code: 'Forbidden', message: 'Caller is not authorized', innererror: { code: 'ForbiddenByRbac' } },
    });
    expect(classifyKeyVaultError(error, NOW, 'Reading')).toMatchObject({
      code: 'keyvault_forbidden',
      upstreamStatus: 403,
      upstreamError: 'ForbiddenByRbac',
    });
  });

  it('403 by the firewall → keyvault_forbidden', () => {
    const error = keyVaultError(403, {
      error: {
        code: 'Forbidden',
        message: 'Client address is not authorized',
        innererror: { code: 'ForbiddenByFirewall' },
      },
    });
    expect(classifyKeyVaultError(error, NOW, 'Reading').code).toBe('keyvault_forbidden');
  });

  it('401 after the challenge (token refused) → keyvault_forbidden', () => {
    expect(
      classifyKeyVaultError(keyVaultError(401, { error: { code: 'Unauthorized', message: 'x' } }), NOW, 'R').code,
    ).toBe('keyvault_forbidden');
  });

  it('403 SecretDisabled (inner or outer code) → keyvault_disabled', () => {
    const inner = keyVaultError(403, {
      error: {
        code: 'Forbidden',
        message: 'Operation get is not allowed on a disabled secret.',
        innererror: { code: 'SecretDisabled' },
      },
    });
    expect(classifyKeyVaultError(inner, NOW, 'Reading').code).toBe('keyvault_disabled');
    const outer = keyVaultError(403, { error: { code: 'SecretDisabled', message: 'disabled' } });
    expect(classifyKeyVaultError(outer, NOW, 'Reading').code).toBe('keyvault_disabled');
  });

  it('404 SecretNotFound → keyvault_not_found', () => {
    const error = keyVaultError(404, {
      error: { code: 'SecretNotFound', message: 'A secret with (name/id) x was not found' },
    });
    expect(classifyKeyVaultError(error, NOW, 'Reading')).toMatchObject({
      code: 'keyvault_not_found',
      upstreamError: 'SecretNotFound',
    });
  });

  it('429 → keyvault_throttled with Retry-After (seconds, date, missing)', () => {
    const body = { error: { code: 'Throttled', message: 'Request was not processed because too many requests' } };
    expect(classifyKeyVaultError(keyVaultError(429, body, { 'retry-after': '11' }), NOW, 'R')).toMatchObject({
      code: 'keyvault_throttled',
      retryAfterSeconds: 11,
    });
    const date = new Date(NOW + 20_000).toUTCString();
    expect(classifyKeyVaultError(keyVaultError(429, body, { 'retry-after': date }), NOW, 'R').retryAfterSeconds).toBe(
      20,
    );
    expect(classifyKeyVaultError(keyVaultError(429, body), NOW, 'R').retryAfterSeconds).toBe(5);
  });

  it.each([500, 502, 503, 504])('HTTP %d → keyvault_transient', (status) => {
    expect(classifyKeyVaultError(keyVaultError(status, 'upstream broke'), NOW, 'R')).toMatchObject({
      code: 'keyvault_transient',
      upstreamStatus: status,
    });
  });

  it.each(['ECONNREFUSED', 'ECONNRESET', 'UNABLE_TO_VERIFY_LEAF_SIGNATURE'])(
    'network/TLS %s → keyvault_transient',
    (code) => {
      const error = new RestError(`connect ${code}`, { code });
      expect(classifyKeyVaultError(error, NOW, 'R')).toMatchObject({ code: 'keyvault_transient', upstreamError: code });
    },
  );

  it('a 200 that cannot be parsed → keyvault_transient, and the quoted body (the secret) is not kept', () => {
    const error = keyVaultError(200, `{"value":"${CANARY}",`);
    error.message = `Error "Unexpected end of JSON" occurred while parsing the response body - {"value":"${CANARY}",.`;
    const classified = classifyKeyVaultError(error, NOW, 'R');
    expect(classified.code).toBe('keyvault_transient');
    const cause = classified.cause as Error;
    expect(`${classified.message} ${cause.message} ${cause.stack} ${JSON.stringify(cause)}`).not.toContain(CANARY);
    expect(JSON.stringify(cause)).not.toContain('eyJ');
  });

  it('managed identity unavailable → keyvault_transient; refused by its endpoint (4xx) → keyvault_forbidden', () => {
    expect(classifyKeyVaultError(new CredentialUnavailableError('no MI'), NOW, 'R')).toMatchObject({
      code: 'keyvault_transient',
      upstreamError: 'managed_identity_unavailable',
    });
    expect(
      classifyKeyVaultError(new AuthenticationError(500, { error: 'x', error_description: 'y' }), NOW, 'R').code,
    ).toBe('keyvault_transient');
    expect(
      classifyKeyVaultError(
        new AuthenticationError(400, { error: 'invalid_request', error_description: 'unknown identity' }),
        NOW,
        'R',
      ).code,
    ).toBe('keyvault_forbidden');
  });

  it('our own timeout passes through', () => {
    const timeout = new BrokerError('keyvault_timeout', 'late');
    expect(classifyKeyVaultError(timeout, NOW, 'R')).toBe(timeout);
  });

  it('messages are ours and name the operation, never upstream text', () => {
    const error = keyVaultError(403, { error: { code: 'Forbidden', message: 'Caller oid=abc is not authorized' } });
    const classified = classifyKeyVaultError(error, NOW, 'Reading the latest client credential');
    expect(classified.message).toMatch(/^Reading the latest client credential: /);
    expect(classified.message).not.toContain('oid=abc');
  });
});
