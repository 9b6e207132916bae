import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { buildSync } from 'esbuild';
import { createStartupPrefetch } from '../../../src/operations/startupPrefetch';
import type { ServedToken } from '../../../src/tokens/tokenProvider';
import { LogCapture, makeConfig, SCOPE_A, SCOPE_B } from '../../support/frontDoorFixture';

describe('startup prefetch', () => {
  function harness(overrides: Record<string, string> = {}, failScope?: string, metadataRead = true) {
    const order: string[] = [];
    const release: (() => void)[] = [];
    const gate = <T>(name: string, value: T): Promise<T> => {
      order.push(name);
      return new Promise((resolve) => release.push(() => resolve(value)));
    };
    const log = new LogCapture();
    let turn: () => void = () => undefined;
    const nextTurn = (): Promise<void> => {
      order.push('next turn');
      return new Promise((resolve) => (turn = resolve));
    };
    const prefetch = createStartupPrefetch({
      nextTurn,
      config: makeConfig(overrides),
      managedIdentity: {
        getToken: (scopes) => gate(`identity ${String(scopes)}`, { token: 'mi', expiresOnTimestamp: 1 }),
      },
      warmUpCallerKeys: () => gate('keys', true),
      tokenClient: { warmUp: () => gate('entra metadata', metadataRead) },
      tokens: {
        getToken: (scope) =>
          scope === failScope
            ? (order.push(`token ${scope}`), Promise.reject(new Error('Entra down')))
            : gate(`token ${scope}`, { scope } as ServedToken),
      },
      logger: log.logger,
      now: () => 0,
    });
    /** Lets the prefetch's later turn come, and what it starts then start. */
    const passTurn = async (): Promise<void> => {
      turn();
      await new Promise((resolve) => setImmediate(resolve));
    };
    /** Runs the prefetch past its turn; `done` settles once everything it started has answered. */
    const started = async (): Promise<{ done: Promise<void> }> => {
      const done = prefetch();
      await passTurn();
      return { done };
    };
    return { order, release, log, prefetch, passTurn, started };
  }

  it('asks for the managed identity token and every scope first, and the caller keys and Entra metadata a turn later', async () => {
    const h = harness();
    const done = h.prefetch();
    // The head of the chain every first token waits for goes out before anything that loads fetch.
    expect(h.order).toEqual([
      'identity https://vault.azure.net/.default',
      `token ${SCOPE_A}`,
      `token ${SCOPE_B}`,
      'next turn',
    ]);
    await h.passTurn();
    expect(h.order.slice(4)).toEqual(['keys', 'entra metadata']);
    // Nothing has answered yet: all five are in flight together.
    expect(h.release).toHaveLength(5);
    expect(h.log.events('StartupPrefetch')).toEqual([]);
    for (const release of h.release) release();
    await done;
    expect(h.log.events('StartupPrefetch')).toEqual([
      expect.objectContaining({
        callerKeys: true,
        managedIdentity: true,
        entraMetadata: true,
        tokens: 2,
        tokensFailed: 0,
      }),
    ]);
  });

  it('a metadata read that failed is logged as entraMetadata: false, and the rest still arrives', async () => {
    const h = harness({}, undefined, false);
    const { done } = await h.started();
    for (const release of h.release) release();
    await done;
    expect(h.log.events('StartupPrefetch')).toEqual([
      expect.objectContaining({ callerKeys: true, managedIdentity: true, entraMetadata: false, tokens: 2 }),
    ]);
  });

  it('asks the managed identity for the token exchange assertion with a federated credential', () => {
    const h = harness({ CLIENT_CREDENTIAL_KIND: 'federated' });
    void h.prefetch();
    expect(h.order).toContain('identity api://AzureADTokenExchange/.default');
  });

  it('a request that fails before the later turn is never an unhandled rejection (which stops Node.js)', () => {
    // In a plain Node.js process: jest's sandbox does not see unhandled rejections, Node.js does, and
    // by default it ends the process on one.
    const dir = mkdtempSync(path.join(os.tmpdir(), 'prefetch-'));
    try {
      const bundle = path.join(dir, 'startupPrefetch.js');
      buildSync({
        entryPoints: [path.join(__dirname, '../../../src/operations/startupPrefetch.ts')],
        bundle: true,
        platform: 'node',
        outfile: bundle,
        logLevel: 'silent',
      });
      const script = `
        const { createStartupPrefetch } = require(${JSON.stringify(bundle)});
        const lines = [];
        const logger = { child: () => logger, info: (event, fields) => lines.push({ event, ...fields }) };
        createStartupPrefetch({
          config: { credentialKind: 'secret', keyVaultUrl: 'https://kv.vault.azure.net', tokenScopes: ['a', 'b'] },
          managedIdentity: { getToken: () => Promise.reject(new Error('no managed identity here')) },
          warmUpCallerKeys: () => Promise.resolve(true),
          tokenClient: { warmUp: () => Promise.resolve(true) },
          tokens: { getToken: () => Promise.reject(new Error('Entra down')) },
          logger,
        })().then(() => console.log(JSON.stringify(lines)));
      `;
      const result = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8' });
      expect(result.stderr).toBe('');
      expect(result.status).toBe(0);
      expect(JSON.parse(result.stdout)).toEqual([
        expect.objectContaining({ event: 'StartupPrefetch', managedIdentity: false, tokens: 0, tokensFailed: 2 }),
      ]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('never throws: a failed scope is counted and logged, the others still arrive', async () => {
    const h = harness({}, SCOPE_B);
    const { done } = await h.started();
    for (const release of h.release) release();
    await expect(done).resolves.toBeUndefined();
    expect(h.log.events('StartupPrefetch')).toEqual([expect.objectContaining({ tokens: 1, tokensFailed: 1 })]);
  });
});
