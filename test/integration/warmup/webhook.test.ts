/**
 * Alert sinks: a warm-up run POSTs its alerts to ALERT_WEBHOOK_URL over real HTTPS, and a
 * webhook that is down, failing or hanging never fails the run.
 */
import { createServer, type Server } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { startEmulator, type RunningEmulator } from '../../../dev/emulator';
import { createTlsMaterial } from '../../../dev/emulator/tls';
import { createTlsFetch } from '../../../src/platform/tlsFetch';
import { buildWarmupBroker } from '../../support/fakes/warmupStack';
import { useIdentityEnv } from '../../support/identityEnv';

interface Received {
  method: string;
  path: string;
  contentType: string | undefined;
  body: Record<string, unknown>;
}

/** An HTTPS receiver on 127.0.0.1 with its own CA; `answer` decides each response. */
async function startReceiver(answer: (count: number, res: ServerResponse) => void) {
  const tls = createTlsMaterial(Date.now());
  const received: Received[] = [];
  const server: Server = createServer(
    { key: tls.server.keys.privateKeyPem, cert: tls.server.certPem },
    (req: IncomingMessage, res: ServerResponse) => {
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () => {
        received.push({
          method: req.method ?? '',
          path: req.url ?? '',
          contentType: req.headers['content-type'],
          body: JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown>,
        });
        answer(received.length, res);
      });
    },
  );
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `https://127.0.0.1:${port}/hooks/broker-alerts`,
    fetch: createTlsFetch(tls.ca.certPem),
    received,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

type Receiver = Awaited<ReturnType<typeof startReceiver>>;

const CANARY = 'canary-secret-9d41-warmup-webhook';

describe('warm-up run: alert webhook', () => {
  let emulator: RunningEmulator;
  let restoreIdentity: () => void;
  const receivers: Receiver[] = [];

  beforeAll(async () => {
    emulator = await startEmulator({ secretExpiresInDays: 10, clientSecret: CANARY });
    restoreIdentity = useIdentityEnv(emulator);
  });
  afterAll(async () => {
    await Promise.all(receivers.map((receiver) => receiver.close()));
    restoreIdentity();
    await emulator.close();
  });

  async function receiver(answer: (count: number, res: ServerResponse) => void): Promise<Receiver> {
    const started = await startReceiver(answer);
    receivers.push(started);
    return started;
  }

  it('the receiver gets the alert JSON (the same fields as the log line)', async () => {
    const hook = await receiver((_count, res) => res.writeHead(204).end());
    const broker = buildWarmupBroker(emulator, { webhookUrl: hook.url, fetch: hook.fetch });
    const report = await broker.run();

    expect(report.alerts).toEqual(['SecretExpiryWarning']);
    // The run waited for the post: it has arrived by now.
    expect(hook.received).toHaveLength(1);
    const [post] = hook.received;
    expect(post).toMatchObject({ method: 'POST', path: '/hooks/broker-alerts' });
    expect(post!.contentType).toMatch(/^application\/json/);
    const line = broker.logs.find((item) => item.record.event === 'SecretExpiryWarning')!.record;
    expect(post!.body).toEqual({
      event: 'SecretExpiryWarning',
      severity: 'warning',
      credentialName: line.credentialName,
      version: report.credential.version,
      expiresOn: report.credential.expiresOn,
      daysLeft: 9,
      message: line.message,
      details: { kind: 'secret', thresholdDays: 14 },
      time: new Date(broker.clock.now()).toISOString(),
      source: 'entra-token-broker',
    });
    expect(broker.logs.filter((item) => item.record.event === 'AlertWebhookFailed')).toEqual([]);
    // Neither the log nor the webhook ever carries the secret or a token.
    const everything = JSON.stringify(hook.received) + broker.logs.map((item) => item.raw).join('\n');
    expect(everything).not.toContain(CANARY);
    expect(everything).not.toMatch(/eyJ[A-Za-z0-9_-]{10,}/);
  });

  it('a 503 is retried once and then delivered', async () => {
    const hook = await receiver((count, res) => res.writeHead(count === 1 ? 503 : 200).end('{}'));
    const broker = buildWarmupBroker(emulator, { webhookUrl: hook.url, fetch: hook.fetch, webhookAttempts: 2 });
    await broker.run();
    expect(hook.received.map((item) => item.body.event)).toEqual(['SecretExpiryWarning', 'SecretExpiryWarning']);
    expect(broker.logs.filter((item) => item.record.event === 'AlertWebhookFailed')).toEqual([]);
  });

  it('a webhook that is down does not fail the run; the failure is logged', async () => {
    // A port that was just free: nothing listens there.
    const gone = await startReceiver(() => undefined);
    await gone.close();
    const broker = buildWarmupBroker(emulator, { webhookUrl: gone.url, fetch: gone.fetch, webhookAttempts: 2 });
    const report = await broker.run();

    expect(report.alerts).toEqual(['SecretExpiryWarning']);
    expect(report.scopes.map((item) => item.outcome)).toEqual(emulator.scopes.map(() => 'refreshed'));
    const failures = broker.logs.filter((item) => item.record.event === 'AlertWebhookFailed');
    expect(failures).toHaveLength(1);
    expect(failures[0]!.record).toMatchObject({ alertEvent: 'SecretExpiryWarning', reason: 'network', attempts: 2 });
    expect(failures[0]!.raw).not.toContain('/hooks/broker-alerts');
  });

  it('a webhook that hangs is abandoned after its timeout; the run completes', async () => {
    const hook = await receiver(() => undefined); // reads the request, never answers
    const broker = buildWarmupBroker(emulator, {
      webhookUrl: hook.url,
      fetch: hook.fetch,
      webhookTimeoutMs: 300,
      webhookAttempts: 2,
    });
    const report = await broker.run();

    expect(report.alerts).toEqual(['SecretExpiryWarning']);
    expect(hook.received).toHaveLength(2);
    expect(broker.logs.find((item) => item.record.event === 'AlertWebhookFailed')?.record).toMatchObject({
      alertEvent: 'SecretExpiryWarning',
      reason: 'timeout',
      timeoutMs: 300,
    });
  });
});
