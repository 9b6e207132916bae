import { createInvocationLogHandler } from '../../../dev/host/invocationLog';

describe('InvocationContext log handler of the local host', () => {
  it('passes a JSON log line of the broker through unchanged', () => {
    const lines: string[] = [];
    const line = JSON.stringify({
      time: 't',
      level: 'warn',
      component: 'Alerts',
      event: 'SecretExpiryWarning',
      days: 7,
    });
    createInvocationLogHandler((l) => lines.push(l), 'warmup', 'id-1')('warning', line);
    expect(lines).toEqual([line]);
  });

  it('wraps anything else in one JSON line naming the function and invocation', () => {
    const lines: string[] = [];
    createInvocationLogHandler((l) => lines.push(l), 'token', 'id-2')(
      'error',
      'failed with',
      42,
      '\n{"not":"json line"}',
    );
    expect(lines).toHaveLength(1);
    const parsed = JSON.parse(lines[0]!) as Record<string, unknown>;
    expect(parsed).toMatchObject({
      level: 'error',
      component: 'LocalHost',
      event: 'FunctionLog',
      function: 'token',
      invocationId: 'id-2',
    });
    expect(parsed.message).toBe('failed with 42 \n{"not":"json line"}');
  });
});
