import type { InvocationContext, Timer, TimerHandler } from '@azure/functions';
import type { Logger } from '../platform/logger';
import { describeError } from '../platform/logger';
import type { WarmupReport } from '../operations/warmup';

/**
 * The `warmup` timer function: runs one warm-up and logs a one-line summary (`WarmupCompleted`).
 *
 * Expected failures (Entra or Key Vault down, a bad new secret) never make the invocation fail:
 * the runner turns them into outcomes and alerts, and it never touches cached tokens. Only an
 * unexpected error (a bug) is logged as `WarmupFailed` and rethrown, so the Functions host records
 * a failed invocation that shows up in Application Insights; the next run starts afresh.
 */
export function createWarmupFunction(run: () => Promise<WarmupReport>, logger: Logger): TimerHandler {
  const log = logger.child('WarmupFunction');
  return async (timer: Timer, context: InvocationContext): Promise<void> => {
    const started = Date.now();
    let report: WarmupReport;
    try {
      report = await run();
    } catch (error) {
      log.error('WarmupFailed', { invocationId: context.invocationId, error: describeError(error) });
      throw error;
    }
    const count = (outcome: 'fresh' | 'refreshed' | 'failed'): number =>
      report.scopes.filter((item) => item.outcome === outcome).length;
    const failed = count('failed');
    const fields = {
      invocationId: context.invocationId,
      isPastDue: timer.isPastDue,
      durationMs: Date.now() - started,
      scopes: report.scopes.length,
      fresh: count('fresh'),
      refreshed: count('refreshed'),
      failed,
      failedScopes: report.scopes
        .filter((item) => item.outcome === 'failed')
        .map((item) => ({ scope: item.scope, code: item.error?.code })),
      credentialKind: report.credential.kind,
      credentialVersion: report.credential.version,
      expiresOn: report.credential.expiresOn,
      daysLeft: report.credential.daysLeft,
      rotation: report.rotation,
      alerts: report.alerts,
    };
    if (failed > 0 || report.rotation === 'failed') log.warn('WarmupCompleted', fields);
    else log.info('WarmupCompleted', fields);
  };
}
