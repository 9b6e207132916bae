import type { Alert, AlertSink } from '../contract/alert';
import { type Clock, systemClock } from '../platform/clock';
import { describeError, type Logger } from '../platform/logger';

/** An alert sink whose background webhook posts can be awaited. */
export interface FlushableAlertSink extends AlertSink {
  /** Resolves once every webhook post started so far has finished (delivered or given up). Never rejects. */
  flush(): Promise<void>;
}

export interface AlertSinkOptions {
  /** Alerts are written here, one structured line each. */
  logger: Logger;
  /** HTTPS endpoint that receives each alert as JSON (`ALERT_WEBHOOK_URL`); none: log only. */
  webhookUrl?: string | undefined;
  /** Injected for tests (a CA-trusting fetch); production uses the global fetch. */
  fetch?: typeof fetch;
  clock?: Clock;
  /** Per attempt; default 5000. A webhook that hangs is abandoned after this. */
  webhookTimeoutMs?: number;
  /** Attempts per alert, first one included; default 2 (one retry). Clamped to 1..5. */
  webhookAttempts?: number;
  /** Pause between attempts; default 1000. */
  webhookRetryDelayMs?: number;
  /** Posts in flight at once; further alerts are logged but not posted. Default 20. */
  maxPendingPosts?: number;
}

/** The JSON an alert becomes, in the log line and in the webhook body alike. */
export interface AlertRecord {
  readonly event: Alert['event'];
  readonly severity: Alert['severity'];
  readonly credentialName: string;
  readonly version: string | undefined;
  readonly expiresOn: string | undefined;
  readonly daysLeft: number | undefined;
  readonly message: string;
  readonly details?: Alert['details'];
  /** ISO 8601, from the injected clock (webhook body only; the log line has its own `time`). */
  readonly time: string;
  readonly source: 'entra-token-broker';
}

const DEFAULT_TIMEOUT_MS = 5000;
const DEFAULT_ATTEMPTS = 2;
const DEFAULT_RETRY_DELAY_MS = 1000;
const DEFAULT_MAX_PENDING = 20;

/**
 * The broker's alert sink. Every alert becomes one structured log line whose `event` is the alert's
 * stable name (`SecretExpiryWarning`, ...) at the level of its severity (warning → `warn`, error →
 * `error`, info → `info`), so an Application Insights rule can match on it. When a webhook URL is
 * configured the same JSON is POSTed there in the background: short timeout, one retry by default,
 * failures logged as `AlertWebhookFailed` and never thrown. `raise` never throws and never waits.
 *
 * The sink does not deduplicate: whoever raises decides how often (see `AlertDeduper`), because
 * only the raiser knows what "the same alert" means (threshold and version, failure streak, ...).
 */
export function createAlertSink(options: AlertSinkOptions): FlushableAlertSink {
  const logger = options.logger.child('Alerts');
  const clock = options.clock ?? systemClock;
  const webhookUrl = options.webhookUrl;
  // Looked up per post, not here: reading the global fetch loads Node's built-in undici, which
  // would add milliseconds to the app's load for a webhook that may never be called.
  const doFetch: typeof fetch = options.fetch ?? ((input, init) => globalThis.fetch(input, init));
  const timeoutMs = positive(options.webhookTimeoutMs, DEFAULT_TIMEOUT_MS);
  const attempts = Math.min(5, Math.max(1, Math.floor(options.webhookAttempts ?? DEFAULT_ATTEMPTS)));
  const retryDelayMs = Math.max(0, options.webhookRetryDelayMs ?? DEFAULT_RETRY_DELAY_MS);
  const maxPending = positive(options.maxPendingPosts, DEFAULT_MAX_PENDING);
  // The webhook URL itself can carry a secret (Teams/Slack put one in the path): log only its origin.
  const webhookOrigin = webhookUrl === undefined ? undefined : safeOrigin(webhookUrl);
  const pending = new Set<Promise<void>>();

  const post = async (record: AlertRecord, url: string): Promise<void> => {
    const body = JSON.stringify(record);
    let lastProblem: Record<string, unknown> = {};
    for (let attempt = 1; attempt <= attempts; attempt += 1) {
      if (attempt > 1 && retryDelayMs > 0) await delay(retryDelayMs);
      const controller = new AbortController();
      const timer = setTimeout(() => controller.abort(), timeoutMs);
      try {
        const response = await doFetch(url, {
          method: 'POST',
          headers: { 'content-type': 'application/json; charset=utf-8' },
          body,
          signal: controller.signal,
          redirect: 'error',
        });
        // Drain the body so the connection is released; its content is of no interest.
        await response.arrayBuffer().catch(() => undefined);
        if (response.ok) return;
        lastProblem = { status: response.status };
        // Only throttling and server errors are worth a second try; a 4xx will not change.
        if (response.status !== 429 && response.status < 500) break;
      } catch (error) {
        lastProblem = controller.signal.aborted
          ? { reason: 'timeout', timeoutMs }
          : { reason: 'network', error: describeError(error) };
      } finally {
        clearTimeout(timer);
      }
    }
    logger.warn('AlertWebhookFailed', {
      alertEvent: record.event,
      webhookOrigin,
      attempts,
      ...lastProblem,
      message: 'The alert webhook did not accept the alert; it is in the log line above.',
    });
  };

  const raise = (alert: Alert): void => {
    try {
      const record = toRecord(alert, clock);
      // The log line has its own time and component; the rest is the webhook body field for field.
      const { event, time: _time, source: _source, ...logFields } = record;
      if (alert.severity === 'error') logger.error(event, logFields);
      else if (alert.severity === 'warning') logger.warn(event, logFields);
      else logger.info(event, logFields);

      if (webhookUrl === undefined) return;
      if (pending.size >= maxPending) {
        logger.warn('AlertWebhookFailed', {
          alertEvent: record.event,
          webhookOrigin,
          reason: 'backlog',
          message: `More than ${maxPending} alert posts are pending; this alert was only logged.`,
        });
        return;
      }
      const sending = post(record, webhookUrl).catch((error: unknown) => {
        logger.error('AlertWebhookFailed', { alertEvent: record.event, webhookOrigin, error: describeError(error) });
      });
      pending.add(sending);
      void sending.finally(() => pending.delete(sending));
    } catch (error) {
      // An alert must never break the code path that raised it.
      try {
        logger.error('AlertSinkFailed', { error: describeError(error) });
      } catch {
        // Nothing left to report to.
      }
    }
  };

  const flush = async (): Promise<void> => {
    while (pending.size > 0) await Promise.allSettled([...pending]);
  };

  return { raise, flush };
}

/** The JSON shape of an alert; undefined fields stay present in the type but vanish in JSON. */
export function toRecord(alert: Alert, clock: Clock = systemClock): AlertRecord {
  const record: AlertRecord = {
    event: alert.event,
    severity: alert.severity,
    credentialName: alert.credentialName,
    version: alert.version,
    expiresOn: alert.expiresOn,
    daysLeft: alert.daysLeft,
    message: alert.message,
    ...(alert.details === undefined ? {} : { details: alert.details }),
    time: new Date(clock.now()).toISOString(),
    source: 'entra-token-broker',
  };
  return record;
}

/**
 * Remembers which alerts were already raised, in memory, per process. After a restart (or on
 * another instance) every condition that still holds is alerted once more; that is deliberate: a
 * restart must not silence a secret that is about to expire.
 */
export class AlertDeduper {
  private readonly seen = new Set<string>();

  /** True the first time `key` is seen (and records it); false afterwards. */
  first(key: string): boolean {
    if (this.seen.has(key)) return false;
    this.seen.add(key);
    return true;
  }

  has(key: string): boolean {
    return this.seen.has(key);
  }

  /** Forgets every key that starts with `prefix` (a failure streak ended, so the next one alerts again). */
  forget(prefix: string): void {
    for (const key of this.seen) if (key.startsWith(prefix)) this.seen.delete(key);
  }
}

function positive(value: number | undefined, fallback: number): number {
  return value !== undefined && Number.isFinite(value) && value > 0 ? value : fallback;
}

function safeOrigin(url: string): string {
  try {
    return new URL(url).origin;
  } catch {
    return '[invalid url]';
  }
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
