import { HttpRequest, InvocationContext } from '@azure/functions';
import { createHttpFunction } from '../../../src/functions/httpFunction';
import { openInvocationLog } from '../../../src/functions/invocationLog';
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

const eventOf = (line: string): string => (JSON.parse(line) as { event: string }).event;

describe("a request's own log lines, tied to the invocation serving it", () => {
  const processLines: [LogLevel, string][] = [];
  const processSink = (line: string, level: LogLevel): void => void processLines.push([level, line]);
  const logger = createLogger({ sink: processSink, component: 'Test', minLevel: 'debug' });
  beforeEach(() => (processLines.length = 0));

  it("sends a request's lines to its invocation context, each at its own level", async () => {
    const { context, logged } = recordingContext('inv-1');
    const log = openInvocationLog(context, processSink);
    const requestLogger = logger.withSink(log.sink);
    requestLogger.info('TokenRequest', { status: 200 });
    await Promise.resolve();
    requestLogger.warn('Slow', { ms: 900 });
    requestLogger.error('Broken', { error: new Error('boom\n  at a\n  at b') });
    requestLogger.debug('Detail');
    expect(logged.map(([level, line]) => [level, eventOf(line)])).toEqual([
      ['information', 'TokenRequest'],
      ['warning', 'Slow'],
      ['error', 'Broken'],
      ['debug', 'Detail'],
    ]);
    // The stack trace stays inside the one entry.
    expect(logged[2]![1]).not.toContain('\n');
    expect(processLines).toEqual([]);
  });

  it('keeps the same fields, component and scrubbing as the logger it came from', () => {
    const { context, logged } = recordingContext('inv-2');
    const jwt = 'eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl';
    logger
      .child('TokenEndpoint')
      .withSink(openInvocationLog(context, processSink).sink)
      .info('TokenRequest', {
        note: `Bearer ${jwt}`,
      });
    const line = JSON.parse(logged[0]![1]) as Record<string, unknown>;
    expect(line).toMatchObject({ level: 'info', component: 'Test.TokenEndpoint', event: 'TokenRequest' });
    expect(logged[0]![1]).not.toContain(jwt);
  });

  it('keeps concurrent invocations apart', async () => {
    const a = recordingContext('a');
    const b = recordingContext('b');
    const handler = async (name: string, delays: number[], sink: ReturnType<typeof openInvocationLog>['sink']) => {
      const requestLogger = logger.withSink(sink);
      for (const [index, ms] of delays.entries()) {
        await new Promise((resolve) => setTimeout(resolve, ms));
        requestLogger.info(`${name}${index}`);
      }
    };
    await Promise.all([
      handler('FromA', [5], openInvocationLog(a.context, processSink).sink),
      handler('FromB', [0, 10], openInvocationLog(b.context, processSink).sink),
    ]);
    expect(a.logged.map(([, line]) => eventOf(line))).toEqual(['FromA0']);
    expect(b.logged.map(([, line]) => eventOf(line))).toEqual(['FromB0', 'FromB1']);
  });

  it("writes the broker's own lines, and a request's lines after its invocation ended, at the process level", async () => {
    const { context, logged } = recordingContext('inv-3');
    const log = openInvocationLog(context, processSink);
    logger.info('Startup');
    // Work the request started that outlives it (a refresh-ahead): the worker has closed the invocation.
    const later = new Promise((resolve) => setTimeout(resolve, 5)).then(() =>
      logger.withSink(log.sink).info('RefreshedLater'),
    );
    log.close();
    await later;
    expect(logged).toEqual([]);
    expect(processLines.map(([level, line]) => [level, eventOf(line)])).toEqual([
      ['info', 'Startup'],
      ['info', 'RefreshedLater'],
    ]);
  });

  it('is what the HTTP adapter hands every handler, and closes after the answer', async () => {
    const { context, logged } = recordingContext('inv-4');
    let kept: ((line: string, level: LogLevel) => void) | undefined;
    const fn = createHttpFunction(async (_request, requestLog) => {
      kept = requestLog;
      logger.withSink(requestLog!).info('TokenRequest', { status: 200 });
      logger.info('SharedAcquisition');
      return jsonResponse(200, { ok: true });
    }, processSink);
    await fn(new HttpRequest({ method: 'GET', url: 'http://127.0.0.1/api/token' }), context);
    expect(logged.map(([level, line]) => [level, eventOf(line)])).toEqual([['information', 'TokenRequest']]);
    expect(processLines.map(([, line]) => eventOf(line))).toEqual(['SharedAcquisition']);
    logger.withSink(kept!).info('AfterTheAnswer');
    expect(logged).toHaveLength(1);
    expect(processLines.map(([, line]) => eventOf(line))).toEqual(['SharedAcquisition', 'AfterTheAnswer']);
  });

  it('closes the invocation also when a handler throws, and answers 500', async () => {
    const { context, logged } = recordingContext('inv-5');
    let kept: ((line: string, level: LogLevel) => void) | undefined;
    const fn = createHttpFunction((_request, requestLog) => {
      kept = requestLog;
      return Promise.reject(new Error('bug'));
    }, processSink);
    const response = await fn(new HttpRequest({ method: 'GET', url: 'http://127.0.0.1/api/token' }), context);
    expect(response.status).toBe(500);
    logger.withSink(kept!).error('Late');
    expect(logged).toEqual([]);
    expect(processLines.map(([, line]) => eventOf(line))).toEqual(['Late']);
  });
});
