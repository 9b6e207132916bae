import { BrokerError } from '../contract/errors';

/**
 * Bounds `work` by `timeoutMs`. The Azure SDKs ignore abort signals on token requests, so a hung
 * upstream would otherwise hold a caller forever; this rejects on time whatever `work` does.
 *
 * The abandoned promise keeps running: its eventual rejection is swallowed here (no
 * `unhandledRejection`), and callers that can cancel the underlying I/O should do so themselves
 * when this rejects with `code`.
 *
 * @throws BrokerError `code` when the deadline passes first; otherwise whatever `work` rejects
 * with. BrokerError `internal` when `timeoutMs` is not a positive finite number (a bug).
 */
export function withDeadline<T>(
  work: Promise<T>,
  timeoutMs: number,
  code: 'entra_timeout' | 'keyvault_timeout',
  what: string,
): Promise<T> {
  if (!Number.isFinite(timeoutMs) || timeoutMs <= 0) {
    // Still observe `work` so that its rejection cannot go unhandled.
    work.catch(() => undefined);
    return Promise.reject(new BrokerError('internal', `Invalid deadline for ${what}.`));
  }
  return new Promise<T>((resolve, reject) => {
    let settled = false;
    const timer = setTimeout(() => {
      settled = true;
      reject(new BrokerError(code, `${what} did not complete within ${timeoutMs} ms.`));
    }, timeoutMs);
    work.then(
      (value) => {
        clearTimeout(timer);
        if (!settled) resolve(value);
      },
      (error: unknown) => {
        clearTimeout(timer);
        if (!settled) reject(error instanceof Error ? error : new Error(String(error)));
      },
    );
  });
}
