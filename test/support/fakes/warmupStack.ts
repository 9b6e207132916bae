/**
 * A broker assembled from the real parts (Key Vault credential source, Entra token client, token
 * engine, alert sink, warm-up runner) against a running emulator, for the warm-up integration tests.
 *
 * Clocks: the emulator runs on real time, the broker on a ManualClock that starts at real time and
 * that tests move forward by days. The managed identity's and Entra's tokens are then checked by the
 * emulator on real time (so the SDKs' own token caches, which use real time, stay valid), while
 * everything the broker decides (secret expiry, token refresh) follows the injected clock.
 */
import type { Alert, AlertEventName } from '../../../src/contract/alert';
import { createAlertSink, type FlushableAlertSink } from '../../../src/operations/alerts';
import { type BrokerConfig, parseConfig } from '../../../src/contract/config';
import { createKeyVaultCredentialSource } from '../../../src/credentials/credentialSource';
import type { CredentialSource } from '../../../src/credentials/credentialTypes';
import { createLogger, type LogLevel } from '../../../src/platform/logger';
import { createManagedIdentityCredential } from '../../../src/credentials/managedIdentity';
import { SecretRegistry } from '../../../src/platform/redact';
import { createEntraTokenClient } from '../../../src/tokens/tokenClient';
import { TokenEngine } from '../../../src/tokens/tokenEngine';
import { createWarmupRunner, type WarmupReport } from '../../../src/operations/warmup';
import type { RunningEmulator } from '../../../dev/emulator';
import { ManualClock } from './warmupFakes';

export interface LogLine {
  level: LogLevel;
  record: Record<string, unknown>;
  raw: string;
}

export interface WarmupBroker {
  config: BrokerConfig;
  clock: ManualClock;
  source: CredentialSource;
  engine: TokenEngine;
  alerts: Alert[];
  logs: LogLine[];
  run(): Promise<WarmupReport>;
  events(): AlertEventName[];
  ofEvent(event: AlertEventName): Alert[];
  flush(): Promise<void>;
}

export interface WarmupBrokerOptions {
  settings?: Record<string, string>;
  webhookUrl?: string;
  fetch?: typeof fetch;
  webhookTimeoutMs?: number;
  webhookAttempts?: number;
  clock?: ManualClock;
}

export function buildWarmupBroker(emulator: RunningEmulator, options: WarmupBrokerOptions = {}): WarmupBroker {
  const clock = options.clock ?? new ManualClock(Date.now());
  const settings = { ...emulator.brokerSettings(), ...options.settings };
  const config = parseConfig(settings);
  const secrets = new SecretRegistry();
  const logs: LogLine[] = [];
  const logger = createLogger({
    clock,
    secrets,
    minLevel: 'debug',
    sink: (raw, level) => logs.push({ level, raw, record: JSON.parse(raw) as Record<string, unknown> }),
  });
  const managedIdentity = createManagedIdentityCredential({ config, tlsCaPem: emulator.caPem });
  const source = createKeyVaultCredentialSource({
    config,
    managedIdentity,
    logger,
    secrets,
    tlsCaPem: emulator.caPem,
    clock,
  });
  const tokenClient = createEntraTokenClient({ config, clock, logger, tlsCaPem: emulator.caPem, managedIdentity });
  const sink: FlushableAlertSink = createAlertSink({
    logger,
    clock,
    webhookUrl: options.webhookUrl,
    ...(options.fetch ? { fetch: options.fetch } : {}),
    webhookTimeoutMs: options.webhookTimeoutMs ?? 1000,
    webhookAttempts: options.webhookAttempts ?? 2,
    webhookRetryDelayMs: 10,
  });
  const alerts: Alert[] = [];
  const recording: FlushableAlertSink = {
    raise(alert) {
      alerts.push(alert);
      sink.raise(alert);
    },
    flush: () => sink.flush(),
  };
  const engine = new TokenEngine({ config, credentialSource: source, tokenClient, alerts: recording, logger, clock });
  const run = createWarmupRunner({ config, engine, credentialSource: source, alerts: recording, logger, clock });
  return {
    config,
    clock,
    source,
    engine,
    alerts,
    logs,
    run,
    events: () => alerts.map((alert) => alert.event),
    ofEvent: (event) => alerts.filter((alert) => alert.event === event),
    flush: () => sink.flush(),
  };
}

/** Waits until the emulator's second-granular `created` timestamps tell two versions apart. */
export function nextSecond(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 1100 - (Date.now() % 1000)));
}
