import {
  type BrokerErrorCode,
  CONFIGURATION_FAILURE_MEMORY_MS,
  type ErrorSpec,
  errorSpec,
  isTransient,
} from '../../../src/contract/errors';

// Every code the broker knows, spelled out here so that a code added to the table shows up in
// this list (the Record must be complete) and gets checked against the rules below.
const ALL_CODES: Record<BrokerErrorCode, true> = {
  config_invalid: true,
  request_invalid: true,
  method_not_allowed: true,
  payload_too_large: true,
  unsupported_media_type: true,
  caller_token_missing: true,
  caller_token_invalid: true,
  caller_forbidden: true,
  caller_rate_limited: true,
  caller_keys_unavailable: true,
  entra_credential_rejected: true,
  entra_credential_expired: true,
  entra_configuration: true,
  entra_throttled: true,
  entra_transient: true,
  entra_timeout: true,
  entra_malformed_response: true,
  managed_identity_unavailable: true,
  keyvault_forbidden: true,
  keyvault_not_found: true,
  keyvault_disabled: true,
  keyvault_throttled: true,
  keyvault_transient: true,
  keyvault_timeout: true,
  credential_invalid: true,
  token_lifetime_too_short: true,
  internal: true,
};
const codes = Object.keys(ALL_CODES) as BrokerErrorCode[];

describe('the error table', () => {
  it.each(codes)('%s: a 503 is told when to come back and never sees our message', (code) => {
    const { http } = errorSpec(code);
    if (http.status !== 503) return;
    expect(http.error).toBe('temporarily_unavailable');
    expect(http.header).toEqual({ name: 'Retry-After', defaultSeconds: expect.any(Number) as number });
    expect(http.description).toEqual(expect.any(String));
  });

  it.each(codes)('%s: retries, memory and alerts agree with its nature', (code) => {
    const spec = errorSpec(code);
    // Only something that may pass by itself is asked again or paused on.
    if (spec.retry === 'backoff' || spec.retry === 'pause') expect(spec.nature).toBe('transient');
    // What is remembered needs a person; a transient failure is never remembered (the next caller tries).
    if (spec.remember !== null) expect(spec.nature).toBe('configuration');
    // Only failed acquisitions alert, and they answer 503.
    if (spec.alert !== null) expect(spec.http.status).toBe(503);
    if (spec.nature === 'request') {
      expect(spec.http.status).toBeGreaterThanOrEqual(400);
      expect(spec.http.status).toBeLessThan(500);
      expect(spec.http.description).toBeNull();
    }
    if (spec.http.status === 500) expect(spec.alert).toBeNull();
  });

  it('a configuration failure of Entra alerts and is remembered; a transient one neither', () => {
    expect(errorSpec('entra_configuration')).toMatchObject({
      nature: 'configuration',
      retry: 'none',
      remember: { ms: CONFIGURATION_FAILURE_MEMORY_MS, whileVersionLoaded: false },
      alert: { event: 'EntraConfigurationError', severity: 'error' },
    });
    expect(errorSpec('entra_transient')).toMatchObject({ retry: 'backoff', remember: null, alert: null });
    expect(errorSpec('entra_credential_rejected')).toMatchObject({
      retry: 'reload',
      remember: { whileVersionLoaded: true },
    });
  });

  it('managed_identity_unavailable: 503, a configuration failure remembered like the others, ManagedIdentityFailed naming the setting', () => {
    const spec = errorSpec('managed_identity_unavailable');
    expect(spec).toMatchObject({
      http: { status: 503, error: 'temporarily_unavailable' },
      nature: 'configuration',
      retry: 'none',
      remember: { ms: CONFIGURATION_FAILURE_MEMORY_MS, whileVersionLoaded: false },
      alert: { event: 'ManagedIdentityFailed', severity: 'error' },
    });
    expect(spec.alert?.message).toContain('AZURE_CLIENT_ID');
    expect(spec.alert?.message).toMatch(/assigned/);
  });

  it('isTransient: outages and throttling of Entra and Key Vault, nothing that needs a person', () => {
    expect(codes.filter(isTransient).sort()).toEqual(
      [
        'caller_keys_unavailable',
        'entra_malformed_response',
        'entra_throttled',
        'entra_timeout',
        'entra_transient',
        'keyvault_throttled',
        'keyvault_timeout',
        'keyvault_transient',
      ].sort(),
    );
  });

  it('only a Key Vault read that failed in passing or was refused keeps a loaded credential in use, never a disabled one', () => {
    expect(codes.filter((code) => errorSpec(code).keepsLoadedCredential).sort()).toEqual(
      [
        'keyvault_forbidden',
        'keyvault_not_found',
        'keyvault_throttled',
        'keyvault_timeout',
        'keyvault_transient',
        'managed_identity_unavailable',
      ].sort(),
    );
  });

  it('an entry that leaves anything out does not compile', () => {
    // @ts-expect-error `alert` is missing: every field of an entry must be decided.
    const incomplete: ErrorSpec = {
      http: { status: 503, error: 'temporarily_unavailable', description: 'x', header: null },
      nature: 'transient',
      retry: 'none',
      remember: null,
      keepsLoadedCredential: false,
    };
    expect(incomplete).toBeDefined();
  });
});
