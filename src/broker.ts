import { createAlertSink, type FlushableAlertSink } from './operations/alerts';
import { CallerAuthenticator } from './callers/callerAuth';
import { type Clock, systemClock } from './platform/clock';
import type { BrokerConfig } from './contract/config';
import { createKeyVaultCredentialSource } from './credentials/credentialSource';
import type { CredentialSource } from './credentials/credentialTypes';
import { createHealthHandler } from './http/healthHandler';
import { createLogger, type LogSink, type Logger } from './platform/logger';
import { createManagedIdentityCredential } from './credentials/managedIdentity';
import { shareConcurrentTokenRequests } from './credentials/sharedTokenRequests';
import { RateLimiter } from './callers/rateLimiter';
import { SecretRegistry } from './platform/redact';
import { createTlsFetch } from './platform/tlsFetch';
import { createEntraTokenClient } from './tokens/tokenClient';
import { TokenEngine } from './tokens/tokenEngine';
import type { CoreHttpRequest, CoreHttpResponse } from './http/httpTypes';
import { createTokenRequestHandler } from './http/tokenRequestHandler';
import { createStartupPrefetch } from './operations/startupPrefetch';
import { createWarmupRunner, type WarmupReport } from './operations/warmup';

export interface BrokerDependencies {
  readonly clock?: Clock;
  /** Where log lines go; default: the process's stdout/stderr, which the Functions host collects. */
  readonly logSink?: LogSink;
  readonly random?: () => number;
  /**
   * An extra CA to trust for Entra, Key Vault, managed identity, JWKS and webhooks. Only the local
   * emulator and tests need it; in Azure the system trust store applies. (A separate broker
   * process can use NODE_EXTRA_CA_CERTS instead.)
   */
  readonly tlsCaPem?: string;
}

/** The broker's objects, built once per process and shared by every invocation. */
export interface Broker {
  readonly config: BrokerConfig;
  readonly logger: Logger;
  readonly engine: TokenEngine;
  readonly credentialSource: CredentialSource;
  readonly alerts: FlushableAlertSink;
  /** `requestLog`: where this request's own lines go (its invocation, see functions/invocationLog.ts). */
  readonly handleTokenRequest: (request: CoreHttpRequest, requestLog?: LogSink) => Promise<CoreHttpResponse>;
  readonly handleHealth: (request: CoreHttpRequest, requestLog?: LogSink) => Promise<CoreHttpResponse>;
  readonly runWarmup: () => Promise<WarmupReport>;
  /** Fetches the tenant's signing keys ahead of the first caller; never throws. */
  readonly warmUpCallerKeys: () => Promise<boolean>;
  /**
   * Starts at once everything the first caller would wait for (signing keys, managed identity
   * token, Entra's OpenID metadata, credential, a token per configured scope); see
   * startupPrefetch.ts. Never throws.
   */
  readonly prefetch: () => Promise<void>;
}

/**
 * Wires the broker from its parsed configuration. Nothing here does I/O: the credential is read
 * and the first token acquired on the first request or warm-up run.
 */
export function createBroker(config: BrokerConfig, dependencies: BrokerDependencies = {}): Broker {
  const clock = dependencies.clock ?? systemClock;
  const random = dependencies.random ?? Math.random;
  const tlsCaPem = dependencies.tlsCaPem;
  const secrets = new SecretRegistry();
  const logger = createLogger({ sink: dependencies.logSink, clock, secrets });
  // Without an extra CA, consumers fall back to the global fetch when they first need it (not
  // now: reading it loads Node's built-in undici, milliseconds of the app's load).
  const fetchWithTrust = tlsCaPem ? createTlsFetch(tlsCaPem) : undefined;

  const managedIdentity = shareConcurrentTokenRequests(createManagedIdentityCredential({ config, tlsCaPem }));
  const credentialSource = createKeyVaultCredentialSource({
    config,
    managedIdentity,
    logger,
    secrets,
    tlsCaPem,
    clock,
  });
  const tokenClient = createEntraTokenClient({
    config,
    clock,
    logger,
    tlsCaPem,
    managedIdentity,
  });
  const alerts = createAlertSink({
    logger,
    webhookUrl: config.alertWebhookUrl,
    fetch: fetchWithTrust,
    clock,
  });
  const engine = new TokenEngine({
    config,
    credentialSource,
    tokenClient,
    alerts,
    logger,
    clock,
    random,
  });
  const authenticator = new CallerAuthenticator({
    config,
    clock,
    logger,
    fetch: fetchWithTrust,
  });

  const runWarmupOnce = createWarmupRunner({
    config,
    engine,
    credentialSource,
    alerts,
    logger,
    clock,
  });

  return {
    config,
    logger,
    engine,
    credentialSource,
    alerts,
    handleTokenRequest: createTokenRequestHandler({
      config,
      tokens: engine,
      authenticator,
      rateLimiter: RateLimiter.fromConfig(config, clock),
      logger,
      clock,
      random,
    }),
    handleHealth: createHealthHandler({ tokens: engine, logger: logger.child('Health') }),
    runWarmup: async () => {
      // Refreshing the caller key set here too means no caller waits for a JWKS fetch.
      const [report] = await Promise.all([runWarmupOnce(), authenticator.warmUp()]);
      return report;
    },
    warmUpCallerKeys: () => authenticator.warmUp(),
    prefetch: createStartupPrefetch({
      config,
      managedIdentity,
      warmUpCallerKeys: () => authenticator.warmUp(),
      tokenClient,
      tokens: engine,
      logger,
      now: () => clock.now(),
    }),
  };
}
