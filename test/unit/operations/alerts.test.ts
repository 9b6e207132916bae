import type { Alert } from '../../../src/contract/alert';
import { AlertDeduper, createAlertSink } from '../../../src/operations/alerts';
import { createLogger, type LogLevel } from '../../../src/platform/logger';
import { ManualClock } from '../../support/fakes/warmupFakes';

interface Line {
  level: LogLevel;
  record: Record<string, unknown>;
}

function capture(): { lines: Line[]; logger: ReturnType<typeof createLogger> } {
  const lines: Line[] = [];
  const logger = createLogger({ sink: (line, level) => lines.push({ level, record: JSON.parse(line) }) });
  return { lines, logger };
}

const warning: Alert = {
  event: 'SecretExpiryWarning',
  severity: 'warning',
  credentialName: 'entra-client-secret',
  version: 'abc123',
  expiresOn: '2026-01-11T12:00:00.000Z',
  daysLeft: 9,
  message: 'The client secret expires soon.',
  details: { kind: 'secret', thresholdDays: 14 },
};

const WEBHOOK = 'https://hooks.example/services/T000/B000/XXXXsecretpathXXXX';

type FetchCall = { url: string; init: RequestInit };

function scriptedFetch(answers: Array<number | 'throw' | 'hang'>): { fetch: typeof fetch; calls: FetchCall[] } {
  const calls: FetchCall[] = [];
  const fetchFn = (async (url: string | URL | Request, init?: RequestInit): Promise<Response> => {
    calls.push({ url: url instanceof Request ? url.url : url.toString(), init: init ?? {} });
    const answer = answers[Math.min(calls.length - 1, answers.length - 1)];
    if (answer === 'throw') throw new TypeError('fetch failed: connect ECONNREFUSED 127.0.0.1:1');
    if (answer === 'hang') {
      return new Promise<Response>((_resolve, reject) => {
        init?.signal?.addEventListener('abort', () => reject(new DOMException('aborted', 'AbortError')));
      });
    }
    return new Response('ok', { status: answer });
  }) as typeof fetch;
  return { fetch: fetchFn, calls };
}

describe('createAlertSink', () => {
  it('writes every alert as one structured line named after the event, at the level of its severity', () => {
    const { lines, logger } = capture();
    const sink = createAlertSink({ logger });
    sink.raise(warning);
    sink.raise({ ...warning, event: 'SecretExpired', severity: 'error', daysLeft: -1 });
    sink.raise({ event: 'CredentialRotated', severity: 'info', credentialName: 'entra-client-secret', message: 'm' });

    expect(lines.map((line) => [line.level, line.record.event])).toEqual([
      ['warn', 'SecretExpiryWarning'],
      ['error', 'SecretExpired'],
      ['info', 'CredentialRotated'],
    ]);
    expect(lines[0]!.record).toMatchObject({
      event: 'SecretExpiryWarning',
      severity: 'warning',
      credentialName: 'entra-client-secret',
      version: 'abc123',
      expiresOn: '2026-01-11T12:00:00.000Z',
      daysLeft: 9,
      message: 'The client secret expires soon.',
      details: { kind: 'secret', thresholdDays: 14 },
    });
  });

  it('POSTs the same JSON to the webhook and never blocks raise()', async () => {
    const { lines, logger } = capture();
    const { fetch, calls } = scriptedFetch([200]);
    const clock = new ManualClock();
    const sink = createAlertSink({ logger, webhookUrl: WEBHOOK, fetch, clock });
    sink.raise(warning);
    await sink.flush();

    expect(calls).toHaveLength(1);
    expect(calls[0]!.url).toBe(WEBHOOK);
    expect(calls[0]!.init.method).toBe('POST');
    expect(new Headers(calls[0]!.init.headers).get('content-type')).toMatch(/^application\/json/);
    const body = JSON.parse(calls[0]!.init.body as string);
    expect(body).toEqual({
      event: 'SecretExpiryWarning',
      severity: 'warning',
      credentialName: 'entra-client-secret',
      version: 'abc123',
      expiresOn: '2026-01-11T12:00:00.000Z',
      daysLeft: 9,
      message: 'The client secret expires soon.',
      details: { kind: 'secret', thresholdDays: 14 },
      time: new Date(clock.now()).toISOString(),
      source: 'entra-token-broker',
    });
    expect(lines.filter((line) => line.record.event === 'AlertWebhookFailed')).toEqual([]);
  });

  it('retries a 5xx once and then succeeds', async () => {
    const { lines, logger } = capture();
    const { fetch, calls } = scriptedFetch([503, 200]);
    const sink = createAlertSink({ logger, webhookUrl: WEBHOOK, fetch, webhookRetryDelayMs: 1 });
    sink.raise(warning);
    await sink.flush();
    expect(calls).toHaveLength(2);
    expect(lines.some((line) => line.record.event === 'AlertWebhookFailed')).toBe(false);
  });

  it('gives up after the configured attempts, logs AlertWebhookFailed without the secret URL path, and never throws', async () => {
    const { lines, logger } = capture();
    const { fetch, calls } = scriptedFetch(['throw']);
    const sink = createAlertSink({ logger, webhookUrl: WEBHOOK, fetch, webhookAttempts: 3, webhookRetryDelayMs: 1 });
    expect(() => sink.raise(warning)).not.toThrow();
    await expect(sink.flush()).resolves.toBeUndefined();
    expect(calls).toHaveLength(3);
    const failures = lines.filter((line) => line.record.event === 'AlertWebhookFailed');
    expect(failures).toHaveLength(1);
    expect(failures[0]!.level).toBe('warn');
    expect(failures[0]!.record).toMatchObject({
      alertEvent: 'SecretExpiryWarning',
      webhookOrigin: 'https://hooks.example',
      reason: 'network',
    });
    expect(JSON.stringify(lines)).not.toContain('secretpath');
  });

  it('does not retry a 4xx answer (it would not change)', async () => {
    const { lines, logger } = capture();
    const { fetch, calls } = scriptedFetch([400, 200]);
    const sink = createAlertSink({ logger, webhookUrl: WEBHOOK, fetch, webhookRetryDelayMs: 1 });
    sink.raise(warning);
    await sink.flush();
    expect(calls).toHaveLength(1);
    expect(lines.find((line) => line.record.event === 'AlertWebhookFailed')?.record).toMatchObject({ status: 400 });
  });

  it('abandons a webhook that hangs after its timeout', async () => {
    const { lines, logger } = capture();
    const { fetch, calls } = scriptedFetch(['hang']);
    const sink = createAlertSink({
      logger,
      webhookUrl: WEBHOOK,
      fetch,
      webhookTimeoutMs: 20,
      webhookAttempts: 2,
      webhookRetryDelayMs: 1,
    });
    sink.raise(warning);
    await sink.flush();
    expect(calls).toHaveLength(2);
    expect(lines.find((line) => line.record.event === 'AlertWebhookFailed')?.record).toMatchObject({
      reason: 'timeout',
      timeoutMs: 20,
    });
  });

  it('only logs alerts beyond the pending-post limit instead of piling up requests', async () => {
    const { lines, logger } = capture();
    const { fetch, calls } = scriptedFetch(['hang']);
    const sink = createAlertSink({
      logger,
      webhookUrl: WEBHOOK,
      fetch,
      webhookTimeoutMs: 20,
      webhookAttempts: 1,
      maxPendingPosts: 2,
    });
    for (let i = 0; i < 5; i += 1) sink.raise({ ...warning, version: `v${i}` });
    expect(lines.filter((line) => line.record.event === 'SecretExpiryWarning')).toHaveLength(5);
    expect(lines.filter((line) => line.record.reason === 'backlog')).toHaveLength(3);
    await sink.flush();
    expect(calls).toHaveLength(2);
  });

  it('does not call any webhook when none is configured', async () => {
    const { logger } = capture();
    const { fetch, calls } = scriptedFetch([200]);
    const sink = createAlertSink({ logger, fetch });
    sink.raise(warning);
    await sink.flush();
    expect(calls).toHaveLength(0);
  });

  it('survives a logger that throws (an alert never breaks the code that raised it)', () => {
    const throwingLogger = createLogger({
      sink: () => {
        throw new Error('disk full');
      },
    });
    const sink = createAlertSink({ logger: throwingLogger });
    expect(() => sink.raise(warning)).not.toThrow();
  });
});

describe('AlertDeduper', () => {
  it('answers true only the first time for a key, and again after forget(prefix)', () => {
    const dedup = new AlertDeduper();
    expect(dedup.first('TokenRefreshFailing:scope-a:1')).toBe(true);
    expect(dedup.first('TokenRefreshFailing:scope-a:1')).toBe(false);
    expect(dedup.first('TokenRefreshFailing:scope-b:1')).toBe(true);
    dedup.forget('TokenRefreshFailing:scope-a:');
    expect(dedup.has('TokenRefreshFailing:scope-a:1')).toBe(false);
    expect(dedup.has('TokenRefreshFailing:scope-b:1')).toBe(true);
    expect(dedup.first('TokenRefreshFailing:scope-a:1')).toBe(true);
  });
});
