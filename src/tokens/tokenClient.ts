import type { AccessToken, TokenCredential, TokenCredentialOptions } from '@azure/identity';
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { type Clock, systemClock } from '../platform/clock';
import type { BrokerConfig } from '../contract/config';
import type { ClientCredential } from '../credentials/credentialTypes';
import { withDeadline } from '../platform/deadline';
import { classifyEntraError } from './entraErrors';
import { summarizeUpstreamError } from '../platform/redact';
import { BrokerError } from '../contract/errors';
import { HttpExchangeRecorder } from './httpExchangeRecorder';
import { azureSdk } from '../platform/lazyAzureSdk';
import type { Logger } from '../platform/logger';

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
   * entra_credential_expired (AADSTS7000222), entra_configuration (70011, 1002012, 700016, 90002,
   * 700027, 70021; unknown tenant, app or scope), entra_throttled (429; `retryAfterSeconds` from
   * seconds or an HTTP date, default 5, capped at 300), entra_transient (5xx, network, TLS; the
   * federated assertion unavailable), entra_timeout, entra_malformed_response (HTML, bad JSON, no
   * access_token, bad expires_in), credential_invalid (the credential cannot be used at all, e.g.
   * an unreadable certificate PEM).
   */
  acquire(credential: ClientCredential, scope: string, options?: { timeoutMs?: number }): Promise<AcquiredToken>;
}

export interface EntraTokenClientOptions {
  config: BrokerConfig;
  clock?: Clock;
  logger: Logger;
  /** Extra CA to trust for Entra (the emulator's); production trusts the system store only. */
  tlsCaPem?: string;
  /** For `federated`: the source of the `api://AzureADTokenExchange` assertion. */
  managedIdentity?: TokenCredential;
}

export const DEFAULT_ACQUIRE_TIMEOUT_MS = 5000;
export const TOKEN_EXCHANGE_SCOPE = 'api://AzureADTokenExchange/.default';

/** Hosts of the Microsoft clouds, for which MSAL's instance discovery works and protects us. */
const MICROSOFT_AUTHORITY_HOSTS = new Set([
  'login.microsoftonline.com',
  'login.microsoftonline.us',
  'login.chinacloudapi.cn',
  'login.partner.microsoftonline.cn',
]);

const SDK_EXPIRY_RESOLUTION_MS = 1000;

/** Whether `authorityHost` is the login host of a Microsoft cloud. */
export function isMicrosoftAuthorityHost(authorityHost: string): boolean {
  return MICROSOFT_AUTHORITY_HOSTS.has(new URL(authorityHost).hostname.toLowerCase());
}

const TOKEN_PATH_SUFFIX = '/oauth2/v2.0/token';
const METADATA_PATH_SUFFIX = '/.well-known/openid-configuration';

/**
 * Entra client over @azure/identity: ClientSecretCredential, ClientCertificateCredential
 * (private_key_jwt, no x5c chain) or ClientAssertionCredential (federated managed identity).
 */
export function createEntraTokenClient(options: EntraTokenClientOptions): TokenClient {
  const { config, logger } = options;
  const clock = options.clock ?? systemClock;
  const log = logger.child('TokenClient');
  // Instance discovery asks login.microsoftonline.com about the authority: right for Microsoft
  // clouds, impossible for any other host (the emulator), where MSAL then reads the host's own metadata.
  const disableInstanceDiscovery = !isMicrosoftAuthorityHost(config.authorityHost);

  return {
    async acquire(credential, scope, acquireOptions = {}) {
      const timeoutMs = acquireOptions.timeoutMs ?? DEFAULT_ACQUIRE_TIMEOUT_MS;
      const recorder = new HttpExchangeRecorder();
      let assertionFailure: unknown;
      const sdkOptions: TokenCredentialOptions & {
        disableInstanceDiscovery: boolean;
        additionallyAllowedTenants: string[];
      } = {
        authorityHost: config.authorityHost,
        disableInstanceDiscovery,
        additionallyAllowedTenants: [],
        // The engine owns retries (bounded, jittered, inside its deadline); SDK retries would sleep
        // inside our attempt and turn a throttle into a timeout.
        retryOptions: { maxRetries: 0 },
        additionalPolicies: [recorder.policy],
        ...(options.tlsCaPem ? { tlsOptions: { ca: options.tlsCaPem } } : {}),
      };

      // A NEW credential instance for every attempt, on purpose: MSAL keeps a token cache per
      // instance (it would hand back the same token until ~5 min before expiry, defeating
      // refresh-ahead) and, after one 429 or 5xx, refuses that instance + scope locally for 60 s
      // whatever Retry-After says. Construction costs ~20-30 µs (measured over 20k constructions);
      // the real price is that a fresh instance fetches the authority metadata again: one extra GET
      // per acquisition (~5 ms per whole acquisition against the local emulator), nothing at one
      // acquisition per scope per half token lifetime.
      let sdkCredential: TokenCredential;
      try {
        sdkCredential = buildSdkCredential(config, credential, sdkOptions, options.managedIdentity, (error) => {
          assertionFailure = error;
        });
      } catch (error) {
        if (error instanceof BrokerError) throw error;
        throw new BrokerError(
          'credential_invalid',
          'The client credential cannot be used to build an Entra credential.',
          {
            cause: summarizeUpstreamError(error),
          },
        );
      }

      let token: AccessToken | null;
      try {
        token = await withDeadline(
          sdkCredential.getToken(scope),
          timeoutMs,
          'entra_timeout',
          'The Entra token request',
        );
      } catch (error) {
        // Free the socket of a request we no longer wait for (no-op when nothing is in flight).
        recorder.abort();
        const classified = classifyEntraError(error, {
          tokenExchange: recorder.last(TOKEN_PATH_SUFFIX),
          metadataExchange: recorder.last(METADATA_PATH_SUFFIX),
          assertionFailure,
          nowMs: clock.now(),
        });
        log.warn('EntraTokenRequestFailed', {
          scope,
          credentialKind: credential.kind,
          credentialVersion: credential.properties.version,
          error: classified,
        });
        throw classified;
      }
      const exchange = recorder.last(TOKEN_PATH_SUFFIX);
      if (exchange?.expiresInValid === false) {
        // MSAL turns an unparseable or missing expires_in into 0 and still returns the token.
        const error = new BrokerError(
          'entra_malformed_response',
          'Entra answered the token request with an unusable expires_in.',
          {
            upstreamStatus: exchange.status,
          },
        );
        log.warn('EntraTokenRequestFailed', { scope, credentialKind: credential.kind, error });
        throw error;
      }
      return acquiredTokenFrom(token, clock.now(), Date.now(), exchange?.status);
    },
  };
}

function buildSdkCredential(
  config: BrokerConfig,
  credential: ClientCredential,
  sdkOptions: TokenCredentialOptions,
  managedIdentity: TokenCredential | undefined,
  onAssertionFailure: (error: unknown) => void,
): TokenCredential {
  const { ClientAssertionCredential, ClientCertificateCredential, ClientSecretCredential } = azureSdk();
  switch (credential.kind) {
    case 'secret':
      return new ClientSecretCredential(config.tenantId, config.clientId, credential.secret, sdkOptions);
    case 'certificate':
      // The SDK parses the PEM only inside getToken and its failure would look like any other
      // error; a PEM that cannot work is the credential's fault, not a transient one.
      assertUsableCertificatePem(credential.pem);
      return new ClientCertificateCredential(
        config.tenantId,
        config.clientId,
        { certificate: credential.pem },
        { ...sdkOptions, sendCertificateChain: false },
      );
    case 'federated': {
      if (managedIdentity === undefined) {
        throw new BrokerError(
          'credential_invalid',
          'The federated credential needs a managed identity, and none was given.',
        );
      }
      const getAssertion = async (): Promise<string> => {
        try {
          const assertion = await managedIdentity.getToken(TOKEN_EXCHANGE_SCOPE);
          if (!assertion?.token) throw new Error('The managed identity returned no token.');
          return assertion.token;
        } catch (error) {
          onAssertionFailure(error);
          throw error;
        }
      };
      return new ClientAssertionCredential(config.tenantId, config.clientId, getAssertion, sdkOptions);
    }
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
  token: AccessToken | null,
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

function assertUsableCertificatePem(pem: string): void {
  let usable: boolean;
  try {
    usable = new X509Certificate(pem).checkPrivateKey(createPrivateKey(pem));
  } catch {
    usable = false;
  }
  if (!usable) {
    throw new BrokerError(
      'credential_invalid',
      'The client certificate is not a PEM certificate with its matching private key.',
    );
  }
}
