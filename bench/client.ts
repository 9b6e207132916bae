/**
 * `npm run bench:client`: BrokerCredential's costs and guarantees, against a broker stand-in on
 * 127.0.0.1 (it answers /api/token after a fixed delay) and a caller credential that counts.
 *
 *   coldStart       1,000 concurrent getToken calls on a new client: broker requests, caller-token
 *                   acquisitions and failures (expected 1, 1, 0)
 *   cacheHit        median cost of an awaited getToken on a held token, against a baseline measured
 *                   in the same run (awaiting an already resolved promise), per call in batches
 *   refreshBoundary getToken in steady use across several refresh_in boundaries: how many calls took
 *                   at least the broker's delay (a call that waited on the broker does; expected 0)
 *
 * Prints ONE JSON object.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { performance } from 'node:perf_hooks';
import type { AccessToken, TokenCredential } from '@azure/core-auth';
import { BrokerCredential } from '../client/src';

const SCOPE = 'api://third-party/.default';
const BROKER_SCOPE = 'api://entra-token-broker/.default';
const BROKER_DELAY_MS = 100;

interface StandIn {
  url: string;
  requests(): number;
  close(): Promise<void>;
}

/** Answers every token request after BROKER_DELAY_MS with a token of `expiresIn` / `refreshIn` seconds. */
async function startStandIn(expiresIn: number, refreshIn: number): Promise<StandIn> {
  let requests = 0;
  const server = createServer((req, res) => {
    requests += 1;
    req.resume();
    req.on('end', () => {
      setTimeout(() => {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(
          JSON.stringify({
            token_type: 'Bearer',
            access_token: `token-${requests}`,
            expires_in: expiresIn,
            expires_on: Math.floor(Date.now() / 1000) + expiresIn,
            scope: SCOPE,
            refresh_in: refreshIn,
          }),
        );
      }, BROKER_DELAY_MS);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    requests: () => requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

class CountingCredential implements TokenCredential {
  acquisitions = 0;
  async getToken(): Promise<AccessToken> {
    this.acquisitions += 1;
    await new Promise((resolve) => setTimeout(resolve, 5));
    return { token: 'caller-token', expiresOnTimestamp: Date.now() + 3_600_000 };
  }
}

/** A client of `standIn` whose own token comes from `caller`. */
function clientOf(
  standIn: StandIn,
  caller: TokenCredential = new CountingCredential(),
  minValidityMs?: number,
): BrokerCredential {
  return new BrokerCredential({ brokerUrl: standIn.url, brokerScope: BROKER_SCOPE, credential: caller, minValidityMs });
}

async function coldStart(): Promise<Record<string, number>> {
  const standIn = await startStandIn(3600, 1800);
  const caller = new CountingCredential();
  const credential = clientOf(standIn, caller);
  const results = await Promise.allSettled(Array.from({ length: 1000 }, () => credential.getToken(SCOPE)));
  await standIn.close();
  return {
    calls: results.length,
    brokerRequests: standIn.requests(),
    callerTokenAcquisitions: caller.acquisitions,
    failures: results.filter((result) => result.status === 'rejected').length,
  };
}

const median = (values: number[]): number => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? 0;
const round = (value: number, digits = 3): number => Number(value.toFixed(digits));

async function cacheHit(): Promise<Record<string, number>> {
  const standIn = await startStandIn(3600, 1800);
  const credential = clientOf(standIn);
  const held = await credential.getToken(SCOPE);
  const resolved = Promise.resolve(held);
  const BATCH = 1_000;
  const BATCHES = 300;
  const hits: number[] = [];
  const baseline: number[] = [];
  let mismatches = 0;
  for (let batch = 0; batch < BATCHES; batch += 1) {
    let started = performance.now();
    for (let i = 0; i < BATCH; i += 1) if ((await credential.getToken(SCOPE)) !== held) mismatches += 1;
    hits.push(((performance.now() - started) * 1000) / BATCH);
    started = performance.now();
    for (let i = 0; i < BATCH; i += 1) if ((await resolved) !== held) mismatches += 1;
    baseline.push(((performance.now() - started) * 1000) / BATCH);
  }
  const requests = standIn.requests();
  await standIn.close();
  const hitUs = median(hits.slice(BATCHES / 3));
  const baselineUs = median(baseline.slice(BATCHES / 3));
  return {
    medianUs: round(hitUs),
    baselineMedianUs: round(baselineUs),
    ratioToBaseline: round(hitUs / baselineUs, 2),
    brokerRequests: requests,
    mismatches,
  };
}

async function refreshBoundary(): Promise<Record<string, number>> {
  // A 6 s token to come back for after 1 s: about four refreshes in the 4.5 s of steady use.
  const standIn = await startStandIn(6, 1);
  const credential = clientOf(standIn, new CountingCredential(), 1_000);
  await credential.getToken(SCOPE);
  const firstRequests = standIn.requests();
  const durationsMs: number[] = [];
  const tokens = new Set<string>();
  const endAt = Date.now() + 4_500;
  while (Date.now() < endAt) {
    const started = performance.now();
    tokens.add((await credential.getToken(SCOPE)).token);
    durationsMs.push(performance.now() - started);
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
  const refreshes = standIn.requests() - firstRequests;
  await standIn.close();
  return {
    calls: durationsMs.length,
    backgroundRefreshes: refreshes,
    distinctTokensServed: tokens.size,
    callsThatWaitedOnBroker: durationsMs.filter((ms) => ms >= BROKER_DELAY_MS).length,
    brokerDelayMs: BROKER_DELAY_MS,
    maxCallUs: round(Math.max(...durationsMs) * 1000, 1),
  };
}

async function main(): Promise<void> {
  const result = {
    node: process.version,
    coldStart: await coldStart(),
    cacheHit: await cacheHit(),
    refreshBoundary: await refreshBoundary(),
  };
  process.stdout.write(`${JSON.stringify(result)}\n`);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
