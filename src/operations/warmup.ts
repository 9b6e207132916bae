import { Cron } from 'croner';
import type { Alert, AlertEventName, AlertSink } from '../contract/alert';
import type { FlushableAlertSink } from './alerts';
import { type Clock, systemClock } from '../platform/clock';
import type { BrokerConfig, CredentialKind } from '../contract/config';
import { createCredentialMonitor, type CredentialHealth } from './credentialMonitor';
import type { CredentialProperties, CredentialSource } from '../credentials/credentialTypes';
import { BrokerError, isBrokerError, isTransient } from '../contract/errors';
import { describeError, type Logger } from '../platform/logger';
import { createCredentialRotator, type RotationOutcome } from './rotation';
import type { RefreshOutcome, TokenEngine } from '../tokens/tokenEngine';

export interface WarmupReport {
  /** One entry per `TOKEN_SCOPES` scope, in configured order. */
  readonly scopes: RefreshOutcome[];
  readonly credential: {
    readonly kind: CredentialKind;
    readonly version?: string | undefined;
    readonly expiresOn?: string | undefined;
    readonly daysLeft?: number | undefined;
    /** Credential alerts raised by this run (expiry, disabled, rotation, Key Vault access). */
    readonly alerts: AlertEventName[];
  };
  /** Absent for federated credentials (nothing to rotate). */
  readonly rotation?: RotationOutcome;
  /** Every alert raised by this run, `TokenRefreshFailing` included. */
  readonly alerts: AlertEventName[];
}

export type WarmupEngine = Pick<TokenEngine, 'refreshIfDue' | 'tryCredential' | 'failingSinceMs'>;

export interface WarmupRunnerOptions {
  config: BrokerConfig;
  engine: WarmupEngine;
  credentialSource: CredentialSource;
  /** If it has `flush()` (createAlertSink), each run waits for its webhook posts before it ends. */
  alerts: AlertSink | FlushableAlertSink;
  logger: Logger;
  clock?: Clock;
  /**
   * How long acquisitions must have failed before `TokenRefreshFailing`. Default: the longest gap
   * between two runs of `WARMUP_SCHEDULE`, i.e. failing on one run and still failing on the next.
   */
  refreshWindowMs?: number;
}

const FALLBACK_INTERVAL_MS = 5 * 60_000;

/**
 * The longest gap between consecutive runs of an NCRONTAB schedule over its next few runs
 * (Functions evaluates schedules in UTC unless WEBSITE_TIME_ZONE says otherwise).
 */
export function warmupIntervalMs(schedule: string, nowMs: number): number {
  try {
    const runs = new Cron(schedule, { paused: true, timezone: 'Etc/UTC' }).nextRuns(6, new Date(nowMs));
    let longest = 0;
    for (let i = 1; i < runs.length; i += 1) {
      const gap = (runs[i] as Date).getTime() - (runs[i - 1] as Date).getTime();
      if (gap > longest) longest = gap;
    }
    return longest > 0 ? longest : FALLBACK_INTERVAL_MS;
  } catch {
    return FALLBACK_INTERVAL_MS;
  }
}

/**
 * One warm-up run, in this order:
 * 1. refresh every configured scope that is missing or due (`engine.refreshIfDue`, which shares
 *    acquisitions already in flight and never drops a valid cached token);
 * 2. credential health: the latest version's properties from Key Vault (no value read), safe
 *    rotation when it is a newer enabled version, then expiry/disabled alerts for the version in use;
 *    federated credentials only get one `CredentialNotExpiring` per process;
 * 3. `TokenRefreshFailing` for each scope whose acquisitions have failed for a whole refresh window,
 *    once per failing streak;
 * 4. wait for the alert webhook posts of this run (bounded by the sink's timeout).
 *
 * Expected failures (BrokerError) are logged and reported, never thrown. A step that throws
 * anything else (a bug) does not stop the other steps; the run then rejects with that error so the
 * Functions host records a failed invocation. Concurrent calls share the run in progress.
 * @throws only non-BrokerError errors (bugs).
 */
export function createWarmupRunner(options: WarmupRunnerOptions): () => Promise<WarmupReport> {
  const { config, engine, credentialSource } = options;
  const logger = options.logger.child('Warmup');
  const clock = options.clock ?? systemClock;
  // Computed on the first run, not here: enumerating the schedule's runs with croner takes
  // milliseconds, and this runs while the app loads (before the host can index the functions).
  let refreshWindowMsValue = options.refreshWindowMs;
  const refreshWindowMs = (): number => (refreshWindowMsValue ??= warmupIntervalMs(config.warmupSchedule, clock.now()));

  // Every alert of a run goes through here so that the report can list what this run raised.
  let raisedThisRun: AlertEventName[] = [];
  const recordingSink: AlertSink = {
    raise(alert: Alert): void {
      raisedThisRun.push(alert.event);
      options.alerts.raise(alert);
    },
  };
  const monitor = createCredentialMonitor({ config, alerts: recordingSink, clock });
  const rotator = createCredentialRotator({ config, engine, credentialSource, alerts: recordingSink, logger });
  /** Error code of the Key Vault failure streak already alerted; undefined when reads work. */
  let keyVaultFailureAlerted: string | undefined;
  /** scope → `failingSinceMs` of the streak already alerted. */
  const failingStreakAlerted = new Map<string, number>();
  let running: Promise<WarmupReport> | undefined;

  const refreshScopes = async (): Promise<RefreshOutcome[]> =>
    Promise.all(
      config.tokenScopes.map(async (scope): Promise<RefreshOutcome> => {
        try {
          return await engine.refreshIfDue(scope);
        } catch (error) {
          // refreshIfDue promises never to throw; if it does anyway, keep the other scopes going.
          if (!isBrokerError(error)) throw error;
          return { scope, outcome: 'failed', error };
        }
      }),
    );

  const readLatest = async (): Promise<CredentialProperties | undefined> => {
    try {
      const latest = await credentialSource.latestProperties();
      keyVaultFailureAlerted = undefined;
      return latest;
    } catch (error) {
      if (!isBrokerError(error)) throw error;
      logger.warn('CredentialPropertiesUnavailable', {
        credentialName: config.credentialName,
        error: describeError(error),
      });
      if (keyVaultFailureAlerted !== error.code) {
        keyVaultFailureAlerted = error.code;
        recordingSink.raise({
          event: 'KeyVaultAccessFailed',
          // A refusal (RBAC, firewall, not found, disabled) needs a human; a blip may pass by itself.
          severity: isTransient(error.code) ? 'warning' : 'error',
          credentialName: config.credentialName,
          message:
            `The warm-up run could not read the properties of '${config.credentialName}' from Key Vault ` +
            `(${error.code}), so it cannot check its expiry or pick up a new version. The credential already ` +
            'loaded keeps being used.',
          details: {
            code: error.code,
            ...(error.upstreamStatus === undefined ? {} : { status: error.upstreamStatus }),
          },
        });
      }
      return undefined;
    }
  };

  const checkCredential = async (): Promise<{ health: CredentialHealth; rotation?: RotationOutcome }> => {
    if (config.credentialKind === 'federated') return { health: monitor.checkFederated() };
    const latest = await readLatest();
    const before = credentialSource.peek()?.properties;
    if (latest !== undefined && before !== undefined && isNewer(before, latest)) {
      // Key Vault's newest *enabled* version is older than the one in use: the version in use was
      // disabled (or deleted) in Key Vault. Say so before rotation moves away from it.
      monitor.check({ ...before, enabled: false });
    }
    let rotation: RotationOutcome = 'none';
    if (latest !== undefined) rotation = (await rotator.rotateIfNewer(latest)).outcome;
    const inUse = credentialSource.peek()?.properties;
    // Fresh properties when the latest version is the one in use; otherwise what was read when the
    // version in use was loaded (a pending or failed rotation, or Key Vault unreachable).
    const watched = inUse !== undefined && inUse.version !== latest?.version ? inUse : (latest ?? inUse);
    if (watched === undefined) return { health: { kind: config.credentialKind, alerts: [] }, rotation };
    return { health: monitor.check(watched), rotation };
  };

  const checkRefreshFailing = (outcomes: readonly RefreshOutcome[]): void => {
    const now = clock.now();
    for (const scope of config.tokenScopes) {
      const since = engine.failingSinceMs(scope);
      if (since === undefined) {
        failingStreakAlerted.delete(scope);
        continue;
      }
      if (now - since < refreshWindowMs() || failingStreakAlerted.get(scope) === since) continue;
      failingStreakAlerted.set(scope, since);
      const lastError = outcomes.find((item) => item.scope === scope)?.error;
      const details: Record<string, string | number | boolean> = {
        scope,
        failingSince: new Date(since).toISOString(),
        failingForSeconds: Math.round((now - since) / 1000),
        refreshWindowSeconds: Math.round(refreshWindowMs() / 1000),
      };
      if (lastError !== undefined) details.code = lastError.code;
      if (lastError?.aadsts !== undefined) details.aadsts = lastError.aadsts;
      recordingSink.raise({
        event: 'TokenRefreshFailing',
        severity: 'error',
        credentialName: config.credentialName,
        version: credentialSource.peek()?.properties.version,
        message:
          `Token acquisitions for a configured scope have failed since ${details.failingSince as string}. ` +
          'Callers keep getting the cached token until it runs out, then 503. See the preceding log lines ' +
          'for the cause.',
        details,
      });
    }
  };

  const runOnce = async (): Promise<WarmupReport> => {
    raisedThisRun = [];
    const bugs: unknown[] = [];
    const step = async <T>(name: string, work: () => Promise<T>, fallback: T): Promise<T> => {
      try {
        return await work();
      } catch (error) {
        bugs.push(error);
        logger.error('WarmupStepFailed', { step: name, error: describeError(error) });
        return fallback;
      }
    };

    const scopes = await step('refresh', refreshScopes, unknownOutcomes(config.tokenScopes));
    const credentialFallback: { health: CredentialHealth; rotation?: RotationOutcome } = {
      health: { kind: config.credentialKind, alerts: [] },
    };
    if (config.credentialKind !== 'federated') credentialFallback.rotation = 'failed';
    const credential = await step('credential', checkCredential, credentialFallback);
    await step('refreshFailing', async () => checkRefreshFailing(scopes), undefined);
    const { flush } = options.alerts as Partial<FlushableAlertSink>;
    if (typeof flush === 'function') await step('alerts', () => flush.call(options.alerts), undefined);

    const all = raisedThisRun;
    raisedThisRun = [];
    if (bugs.length > 0) throw bugs[0];
    const report: WarmupReport = {
      scopes,
      credential: { ...credential.health, alerts: all.filter((event) => event !== 'TokenRefreshFailing') },
      ...(credential.rotation === undefined ? {} : { rotation: credential.rotation }),
      alerts: all,
    };
    return report;
  };

  return () => {
    // Timer invocations do not overlap in the host, but a manual trigger could; share the run.
    running ??= runOnce().finally(() => {
      running = undefined;
    });
    return running;
  };
}

function unknownOutcomes(scopes: readonly string[]): RefreshOutcome[] {
  return scopes.map((scope) => ({
    scope,
    outcome: 'failed',
    error: new BrokerError('internal', 'The refresh step of the warm-up run failed unexpectedly.'),
  }));
}

/** True when `a` was created after `b` (both creation times known). */
function isNewer(a: CredentialProperties, b: CredentialProperties): boolean {
  return (
    a.version !== b.version &&
    a.createdOnMs !== undefined &&
    b.createdOnMs !== undefined &&
    a.createdOnMs > b.createdOnMs
  );
}
