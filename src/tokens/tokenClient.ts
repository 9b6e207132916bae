import type { ConfidentialClientApplication, Configuration } from '@azure/msal-node';
import type { TokenCredential } from '@azure/identity';
import { X509Certificate, createHash, createPrivateKey, randomUUID } from 'node:crypto';
import { type Clock, systemClock } from '../platform/clock';
import type { BrokerConfig } from '../contract/config';
import { isMicrosoftAuthorityHost } from '../contract/clouds';
import type { ClientCredential } from '../credentials/credentialTypes';
import { withDeadline } from '../platform/deadline';
import { classifyAssertionFailure, classifyMsalError } from './entraErrors';
import { EntraHttpClient } from './entraHttpClient';
import { BrokerError } from '../contract/errors';
import { azureSdk } from '../platform/lazyAzureSdk';
import type { Logger } from '../platform/logger';
import { createTlsFetch } from '../platform/tlsFetch';

/** A token as Entra issued it, with times on the injected clock. */
export interface AcquiredToken {
  readonly accessToken: string;
  /** Receive time (injected clock) + the lifetime Entra granted. */
  readonly expiresOnMs: number;
  /** From Entra's `refresh_in`, if it sent one (same clock). */
  readonly refreshAfterMs: number | undefined;
}

export interface TokenClient {
  /**
   * ONE token request to Entra (no retries here), bounded by `timeoutMs`.
   * @throws BrokerError entra_credential_rejected (AADSTS7000215, invalid_client),
   * entra_credential_expired (AADSTS7000222), entra_configuration (70011, 1002012, 700016, 90002;
   * unknown tenant, app or scope; a federated credential that does not match: 70021, 700211,
   * 700212, 700213), entra_throttled (429; `retryAfterSeconds` from seconds or an HTTP date,
   * default 30, capped at 300), entra_transient (5xx, network, TLS; the federated assertion
   * unavailable), managed_identity_unavailable (the managed identity endpoint refused the federated
   * assertion: a 4xx), entra_timeout, entra_malformed_response (HTML, bad JSON, no access_token,
   * bad expires_in), credential_invalid (the credential cannot be used at all, e.g. an unreadable
   * certificate PEM).
   */
  acquire(credential: ClientCredential, scope: string, options?: { timeoutMs?: number }): Promise<AcquiredToken>;
  /**
   * Reads, ahead of the first token, the authority metadata MSAL will read before it (kept for the
   * process, see EntraHttpClient), so the first caller does not wait for it in series.
   * @returns true when MSAL will find the metadata without another request (read now, or built
   * into MSAL for a Microsoft cloud); false when the read failed (logged; the first acquisition
   * reads again and reports the failure). Never throws.
   */
  warmUp(): Promise<boolean>;
}

export interface EntraTokenClientOptions {
  config: BrokerConfig;
  clock?: Clock;
  logger: Logger;
  /** Extra CA to trust for Entra (the emulator's); production trusts the system store only. */
  tlsCaPem?: string;
  /** For `federated`: the source of the token-exchange assertion (`config.tokenExchangeAudience`). */
  managedIdentity?: TokenCredential;
  /** HTTP client for Entra; default: `fetch` trusting `tlsCaPem` too (tests pass a fake). */
  fetch?: typeof fetch;
}

/** The token a confidential client application returned, as acquiredTokenFrom reads it. */
export interface SdkToken {
  readonly token: string;
  /** Wall-clock milliseconds. */
  readonly expiresOnTimestamp: number;
  readonly refreshAfterTimestamp?: number | undefined;
}

export const DEFAULT_ACQUIRE_TIMEOUT_MS = 5000;

const SDK_EXPIRY_RESOLUTION_MS = 1000;

/**
 * Entra client over msal-node's `ConfidentialClientApplication`: a client secret, a certificate
 * (private_key_jwt with `x5t#S256`, no chain) or, for `federated`, the managed identity's token as
 * the client assertion. One application per credential (so MSAL keeps the authority metadata),
 * every request with `skipCache` (the engine owns caching and refresh-ahead) and its own
 * correlation ID, through EntraHttpClient (see there for why the broker brings its own; it also
 * keeps the authority metadata for the process, across credentials).
 */
export function createEntraTokenClient(options: EntraTokenClientOptions): TokenClient {
  const { config, logger } = options;
  const clock = options.clock ?? systemClock;
  const log = logger.child('TokenClient');
  const http = new EntraHttpClient(options.fetch ?? createTlsFetch(options.tlsCaPem), () => clock.now());
  const apps = new WeakMap<ClientCredential, ConfidentialClientApplication>();
  const exchangeScope = `${config.tokenExchangeAudience}/.default`;
  const metadataUrl = openIdMetadataUrl(config);

  const appFor = (credential: ClientCredential): ConfidentialClientApplication => {
    let app = apps.get(credential);
    if (app === undefined) {
      app = new (azureSdk().ConfidentialClientApplication)(
        applicationConfig(config, credential, http, federatedAssertion),
      );
      apps.set(credential, app);
    }
    return app;
  };

  /** MSAL asks for it on every request (twice); the managed identity credential caches its token. */
  const federatedAssertion = async (): Promise<string> => {
    const managedIdentity = options.managedIdentity;
    if (managedIdentity === undefined) {
      throw new BrokerError(
        'credential_invalid',
        'The federated credential needs a managed identity, and none was given.',
      );
    }
    let token: string | undefined;
    try {
      token = (await managedIdentity.getToken(exchangeScope))?.token;
    } catch (error) {
      throw classifyAssertionFailure(error);
    }
    if (!token) throw classifyAssertionFailure(new Error('The managed identity returned no token.'));
    return token;
  };

  return {
    async warmUp() {
      if (metadataUrl === undefined) return true;
      try {
        await http.sendGetRequestAsync(metadataUrl);
        return true;
      } catch (error) {
        log.warn('EntraMetadataWarmUpFailed', { error: http.metadataFailure ?? error });
        return false;
      }
    },

    async acquire(credential, scope, acquireOptions = {}) {
      const timeoutMs = acquireOptions.timeoutMs ?? DEFAULT_ACQUIRE_TIMEOUT_MS;
      const correlationId = randomUUID();
      const controller = new AbortController();
      const slot = http.open(correlationId, controller.signal);
      const attempt = async (): Promise<SdkToken> => {
        const app = appFor(credential);
        const result = await app.acquireTokenByClientCredential({ scopes: [scope], correlationId, skipCache: true });
        return {
          token: result?.accessToken ?? '',
          expiresOnTimestamp: result?.expiresOn?.getTime() ?? Number.NaN,
          refreshAfterTimestamp: result?.refreshOn?.getTime(),
        };
      };
      // The slot lives as long as MSAL works, past our deadline: a request MSAL sends after it
      // then meets the aborted signal instead of going out unbounded.
      const running = attempt().finally(() => http.release(correlationId));
      try {
        const token = await withDeadline(running, timeoutMs, 'entra_timeout', 'The Entra token request');
        return acquiredTokenFrom(token, clock.now(), Date.now(), 200);
      } catch (error) {
        // Frees the socket of a request we no longer wait for (no-op when nothing is in flight).
        controller.abort();
        const classified =
          error instanceof BrokerError ? error : (slot.failure ?? classifyMsalError(error, http.metadataFailure));
        log.warn('EntraTokenRequestFailed', {
          scope,
          credentialKind: credential.kind,
          credentialVersion: credential.properties.version,
          error: classified,
        });
        throw classified;
      }
    },
  };
}

function applicationConfig(
  config: BrokerConfig,
  credential: ClientCredential,
  http: EntraHttpClient,
  federatedAssertion: () => Promise<string>,
): Configuration {
  // Instance discovery asks login.microsoftonline.com about the authority: right for Microsoft
  // clouds, impossible for any other host (the emulator), which is then named as known so that
  // MSAL reads the host's own OpenID metadata.
  const knownAuthorities = isMicrosoftAuthorityHost(config.authorityHost) ? [] : [new URL(config.authorityHost).host];
  return {
    auth: {
      clientId: config.clientId,
      authority: authorityOf(config),
      knownAuthorities,
      ...credentialAuth(credential, federatedAssertion),
    },
    system: { networkClient: http },
  };
}

function authorityOf(config: BrokerConfig): string {
  return `${config.authorityHost}/${config.tenantId}`;
}

/**
 * The one URL MSAL reads before its first token for our authority, or undefined when it reads none.
 * What msal-common (v16) does, for an authority `https://host/tenant`:
 * - Instance discovery: for a Microsoft cloud's login host, MSAL has the cloud discovery metadata
 *   built in (its hard-coded `InstanceDiscoveryMetadata`, which also maps login.chinacloudapi.cn to
 *   login.partner.microsoftonline.cn), so it never asks `…/common/discovery/instance`; any other
 *   host is in `knownAuthorities` (applicationConfig), which makes it trusted without a request.
 * - Endpoint metadata: for those same Microsoft login hosts MSAL has the endpoints built in too
 *   (`EndpointMetadata`), so it reads nothing at all; for any other host it reads
 *   `Authority.defaultOpenIdConfigurationEndpoint`, which is the canonical authority (lower case,
 *   with a trailing slash) followed by `v2.0/.well-known/openid-configuration`.
 * The unit tests run the real msal-node against both kinds of host to hold this true.
 */
export function openIdMetadataUrl(config: BrokerConfig): string | undefined {
  if (isMicrosoftAuthorityHost(config.authorityHost)) return undefined;
  return `${authorityOf(config).toLowerCase()}/v2.0/.well-known/openid-configuration`;
}

function credentialAuth(
  credential: ClientCredential,
  federatedAssertion: () => Promise<string>,
): Partial<Configuration['auth']> {
  switch (credential.kind) {
    case 'secret':
      return { clientSecret: credential.secret };
    case 'certificate':
      return { clientCertificate: certificateFromPem(credential.pem) };
    case 'federated':
      // MSAL passes a failure of the callback through untouched: our BrokerError arrives as thrown.
      return { clientAssertion: federatedAssertion };
  }
}

/**
 * Checks what the SDK returned and moves its times onto the injected clock. The SDK's timestamps are
 * on the wall clock at receive time; carrying the remaining lifetime over means a skewed or faked
 * clock cannot make an expired token look fresh.
 *
 * @param receivedAtMs injected clock at receive time
 * @param wallNowMs `Date.now()` at the same moment
 * @throws BrokerError `entra_malformed_response` for no token, or a non-finite or non-positive lifetime
 */
export function acquiredTokenFrom(
  token: SdkToken | null,
  receivedAtMs: number,
  wallNowMs: number,
  upstreamStatus?: number,
): AcquiredToken {
  const malformed = (what: string): BrokerError =>
    new BrokerError('entra_malformed_response', `Entra answered the token request with ${what}.`, { upstreamStatus });
  if (token === null || typeof token.token !== 'string' || token.token === '') throw malformed('no access token');
  // MSAL stores expiry in whole seconds from a rounded request time, so its timestamp can be up to
  // a second late; one second off the lifetime keeps us from ever overstating it.
  const lifetimeMs = token.expiresOnTimestamp - wallNowMs - SDK_EXPIRY_RESOLUTION_MS;
  if (!Number.isFinite(lifetimeMs) || lifetimeMs <= 0) throw malformed('an unusable lifetime');
  let refreshAfterMs: number | undefined;
  if (token.refreshAfterTimestamp !== undefined) {
    const refreshInMs = token.refreshAfterTimestamp - wallNowMs;
    // A refresh hint that is not a positive time before expiry is ignored, not fatal.
    if (Number.isFinite(refreshInMs) && refreshInMs > 0 && refreshInMs < lifetimeMs)
      refreshAfterMs = receivedAtMs + refreshInMs;
  }
  return { accessToken: token.token, expiresOnMs: receivedAtMs + lifetimeMs, refreshAfterMs };
}

/**
 * The PEM's certificate and private key as msal-node wants them. MSAL would only fail on a bad PEM
 * inside the request, looking like any other failure; a PEM that cannot work is the credential's
 * fault, not a transient one.
 * @throws BrokerError credential_invalid
 */
function certificateFromPem(pem: string): { thumbprintSha256: string; privateKey: string } {
  try {
    const certificate = new X509Certificate(pem);
    const key = createPrivateKey(pem);
    if (certificate.checkPrivateKey(key)) {
      return {
        thumbprintSha256: createHash('sha256').update(certificate.raw).digest('hex').toUpperCase(),
        privateKey: key.export({ type: 'pkcs8', format: 'pem' }).toString(),
      };
    }
  } catch {
    // fall through: not a usable PEM
  }
  throw new BrokerError(
    'credential_invalid',
    'The client certificate is not a PEM certificate with its matching private key.',
  );
}
