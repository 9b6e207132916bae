import { HttpRequest, InvocationContext } from '@azure/functions';
import { createHttpFunction } from '../../../src/functions/httpFunction';
import { createInvocationLogSink, runInInvocation } from '../../../src/functions/invocationLog';
import { jsonResponse } from '../../../src/http/httpResponses';
import { createLogger, type LogLevel } from '../../../src/platform/logger';

/** An InvocationContext whose log calls are recorded (the worker sends them to the host with its invocation ID). */
function recordingContext(invocationId: string): { context: InvocationContext; logged: [string, string][] } {
  const logged: [string, string][] = [];
  const context = new InvocationContext({
    invocationId,
    functionName: 'token',
    logHandler: (level, ...args) => logged.push([level, String(args[0])]),
  });
  return { context, logged };
}

describe('log lines tied to the invocation serving a request', () => {
  const processLines: [LogLevel, string][] = [];
  const logger = createLogger({
    sink: createInvocationLogSink((line, level) => processLines.push([level, line])),
    component: 'Test',
  });
  beforeEach(() => (processLines.length = 0));

  it("sends a request's lines to its invocation context, each at its own level", async () => {
    const { context, logged } = recordingContext('inv-1');
    await runInInvocation(context, async () => {
      logger.info('TokenRequest', { status: 200 });
      await Promise.resolve();
      logger.warn('Slow', { ms: 900 });
      logger.error('Broken', { error: new Error('boom\n  at a\n  at b') });
    });
    expect(logged.map(([level, line]) => [level, (JSON.parse(line) as { event: string }).event])).toEqual([
      ['information', 'TokenRequest'],
      ['warning', 'Slow'],
      ['error', 'Broken'],
    ]);
    // The stack trace stays inside the one entry.
    expect(logged[2]![1]).not.toContain('\n');
    expect(processLines).toEqual([]);
  });

  it('keeps concurrent invocations apart', async () => {
    const a = recordingContext('a');
    const b = recordingContext('b');
    await Promise.all([
      runInInvocation(a.context, async () => {
        await new Promise((resolve) => setTimeout(resolve, 5));
        logger.info('FromA');
      }),
      runInInvocation(b.context, async () => {
        logger.info('FromB');
        await new Promise((resolve) => setTimeout(resolve, 10));
        logger.info('FromBAgain');
      }),
    ]);
    expect(a.logged.map(([, line]) => (JSON.parse(line) as { event: string }).event)).toEqual(['FromA']);
    expect(b.logged.map(([, line]) => (JSON.parse(line) as { event: string }).event)).toEqual(['FromB', 'FromBAgain']);
  });

  it('writes lines outside a request, and after its invocation ended, at the process level', async () => {
    const { context, logged } = recordingContext('inv-2');
    let later: Promise<void> | undefined;
    logger.info('Startup');
    await runInInvocation(context, async () => {
      // Work the request started that outlives it (a refresh-ahead): the worker has closed the invocation.
      later = new Promise((resolve) => setTimeout(resolve, 5)).then(() => logger.info('RefreshedLater'));
    });
    await later;
    expect(logged).toEqual([]);
    expect(processLines.map(([level, line]) => [level, (JSON.parse(line) as { event: string }).event])).toEqual([
      ['info', 'Startup'],
      ['info', 'RefreshedLater'],
    ]);
  });

  it('is what the HTTP adapter does for every request', async () => {
    const { context, logged } = recordingContext('inv-3');
    const fn = createHttpFunction(async () => {
      logger.info('TokenRequest', { status: 200 });
      return jsonResponse(200, { ok: true });
    });
    await fn(new HttpRequest({ method: 'GET', url: 'http://127.0.0.1/api/token' }), context);
    expect(logged).toHaveLength(1);
    expect(processLines).toEqual([]);
  });
});
