import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { buildSync } from 'esbuild';
import { createLogger, describeError } from '../../../src/platform/logger';
import { BrokerError } from '../../../src/contract/errors';
import { SecretRegistry, redactText, truncateForLog } from '../../../src/platform/redact';

const JWT =
  'eyJhbGciOiJSUzI1NiIsImtpZCI6ImsxIn0.eyJhdWQiOiJhcGk6Ly94IiwiZXhwIjoxNzY0MzMwMDAwfQ.c2lnbmF0dXJlLXBhcnQtb2YtdGhlLXRva2Vu';
const CANARY = 'canary-7Q~xZ3vS9mN1pL4kR8tY2wE6';

function capture() {
  const lines: { line: string; level: string }[] = [];
  const secrets = new SecretRegistry();
  const logger = createLogger({
    sink: (line, level) => lines.push({ line, level }),
    clock: { now: () => Date.UTC(2026, 10, 28) },
    secrets,
  });
  return { lines, logger, secrets };
}

describe('logger', () => {
  it('writes one JSON object per line with time, level, component and event', () => {
    const { lines, logger } = capture();
    logger.child('TokenEngine').info('TokenAcquired', { scope: 'api://x/.default', attempts: 1 });
    expect(lines).toHaveLength(1);
    expect(JSON.parse(lines[0]!.line)).toEqual({
      time: '2026-11-28T00:00:00.000Z',
      level: 'info',
      component: 'broker.TokenEngine',
      event: 'TokenAcquired',
      scope: 'api://x/.default',
      attempts: 1,
    });
  });

  it('drops debug lines by default', () => {
    const { lines, logger } = capture();
    logger.debug('Noise');
    expect(lines).toHaveLength(0);
  });

  it('does not let fields overwrite the record header', () => {
    const { lines, logger } = capture();
    logger.warn('Real', { event: 'Fake', level: 'debug' });
    expect(JSON.parse(lines[0]!.line)).toMatchObject({ event: 'Real', level: 'warn' });
  });

  it('scrubs JWTs, form secrets, Authorization values, PEM blocks and registered secrets from every field', () => {
    const { lines, logger, secrets } = capture();
    secrets.add(CANARY);
    logger.error('Oops', {
      header: `Bearer ${JWT}`,
      opaque: 'Authorization: Basic b3BhcXVlOnNlY3JldA==',
      body: `grant_type=client_credentials&client_secret=${encodeURIComponent(CANARY)}&scope=x`,
      nested: { deep: [`value ${CANARY} here`] },
      pem: '-----BEGIN PRIVATE KEY-----\nMIIE\n-----END PRIVATE KEY-----',
      error: new Error(`request failed with ${JWT}`),
    });
    const line = lines[0]!.line;
    expect(line).not.toContain(CANARY);
    expect(line).not.toContain('eyJ');
    expect(line).not.toContain('MIIE');
    expect(line).not.toContain('client_secret=');
    expect(line).toContain('[redacted-credential-parameter]');
    expect(line).toContain('Basic [redacted]');
    expect(line).not.toContain('b3BhcXVl');
  });

  it('escapes untrusted input so it cannot forge a second log line', () => {
    const { lines, logger } = capture();
    logger.info('TokenRequest', { scope: 'api://x/.default\n{"event":"Forged"}' });
    expect(lines).toHaveLength(1);
    expect(lines[0]!.line.split('\n')).toHaveLength(1);
  });
});

describe('describeError', () => {
  it('keeps our code and upstream identifiers but not the cause request options', () => {
    const cause = Object.assign(new Error('401 invalid_client'), {
      request: { body: `client_secret=${CANARY}` },
      statusCode: 401,
    });
    const error = new BrokerError('entra_credential_rejected', 'Entra rejected the client secret.', {
      cause,
      upstreamStatus: 401,
      upstreamError: 'invalid_client',
      aadsts: 7000215,
      correlationId: 'c-1',
    });
    const described = JSON.stringify(describeError(error));
    expect(described).toContain('entra_credential_rejected');
    expect(described).toContain('7000215');
    expect(described).toContain('c-1');
    expect(described).not.toContain(CANARY);
  });

  it('describes non-errors without throwing', () => {
    expect(describeError('plain string')).toEqual({ value: 'plain string' });
  });
});

describe('redactText', () => {
  it('leaves ordinary text alone', () => {
    expect(redactText('scope api://qualys-api/.default refused')).toBe('scope api://qualys-api/.default refused');
  });

  it('scrubs JSON-shaped secrets', () => {
    expect(redactText(`{"access_token":"${JWT}","value":"${CANARY}"}`)).toBe(
      '{"access_token":"[redacted]","value":"[redacted]"}',
    );
  });

  it('truncates long input for logs', () => {
    expect(truncateForLog('a'.repeat(300))).toMatch(/^a{200}….*300 chars/);
  });
});

describe('default sink (no sink given): stdout lines batched per event-loop turn', () => {
  const flushTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

  it('writes info lines with one stdout write per turn, each its own newline-terminated JSON line', async () => {
    const writes: string[] = [];
    const stdout = jest.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
      writes.push(String(chunk));
      return true;
    });
    try {
      const logger = createLogger({ clock: { now: () => Date.UTC(2026, 10, 28) } });
      logger.info('First', { n: 1 });
      logger.info('Second', { n: 2 });
      logger.info('Third', { n: 3 });
      expect(writes).toEqual([]);
      await flushTurn();
      expect(writes).toHaveLength(1);
      expect(writes[0]!.endsWith('\n')).toBe(true);
      const lines = writes[0]!.slice(0, -1).split('\n');
      expect(lines.map((line) => (JSON.parse(line) as { event: string }).event)).toEqual(['First', 'Second', 'Third']);
      logger.info('NextTurn');
      await flushTurn();
      expect(writes).toHaveLength(2);
      expect(JSON.parse(writes[1]!)).toMatchObject({ event: 'NextTurn', level: 'info' });
    } finally {
      stdout.mockRestore();
    }
  });

  it('writes warnings and errors at once, to console.warn and console.error', () => {
    const warn = jest.spyOn(console, 'warn').mockImplementation(() => undefined);
    const error = jest.spyOn(console, 'error').mockImplementation(() => undefined);
    try {
      const logger = createLogger();
      logger.warn('Careful');
      logger.error('Broken');
      expect(warn).toHaveBeenCalledTimes(1);
      expect(JSON.parse(warn.mock.calls[0]![0] as string)).toMatchObject({ event: 'Careful', level: 'warn' });
      expect(error).toHaveBeenCalledTimes(1);
      expect(JSON.parse(error.mock.calls[0]![0] as string)).toMatchObject({ event: 'Broken', level: 'error' });
    } finally {
      warn.mockRestore();
      error.mockRestore();
    }
  });

  it('writes what is pending when the process exits before the next turn (process.exit, uncaught error)', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'logger-exit-'));
    try {
      const script = path.join(dir, 'exit.js');
      const entry = path.join(dir, 'entry.ts');
      writeFileSync(
        entry,
        `import { createLogger } from ${JSON.stringify(path.resolve(__dirname, '../../../src/platform/logger'))};\n` +
          "const logger = createLogger();\nlogger.info('BeforeExit', { n: 1 });\nlogger.info('AlsoBeforeExit');\n" +
          "if (process.argv[2] === 'throw') throw new Error('boom');\nprocess.exit(0);\n",
      );
      buildSync({ entryPoints: [entry], outfile: script, bundle: true, platform: 'node', logLevel: 'silent' });
      for (const mode of ['exit', 'throw']) {
        const result = spawnSync(process.execPath, [script, mode], { encoding: 'utf8' });
        const events = result.stdout
          .trim()
          .split('\n')
          .map((line) => (JSON.parse(line) as { event: string }).event);
        expect(events).toEqual(['BeforeExit', 'AlsoBeforeExit']);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('still drops undefined fields and keeps the line the same as with Object.entries', () => {
    const { lines, logger } = capture();
    logger.info('Audit', { a: undefined, b: 1, c: 'x', d: null });
    expect(lines[0]!.line).toBe(
      '{"time":"2026-11-28T00:00:00.000Z","level":"info","component":"broker","event":"Audit","b":1,"c":"x","d":null}',
    );
  });
});
