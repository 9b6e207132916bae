import { readFileSync } from 'node:fs';
import type { TokenCredential } from '@azure/core-auth';
import { ClientSecretCredential } from '@azure/identity';
import { BrokerCredential, BrokerRequestError } from '../client/src';
import { localFetch, type LocalResponse } from './localFetch';
import { resolveStackPath, type StackCaller, type StackFile } from './stackFile';
import { callerTokenScope } from './stackSettings';

/** One step of the walk-through: what was expected, whether it happened, and what to show. */
export interface DemoStep {
  title: string;
  ok: boolean;
  /** Human-readable facts (claims, statuses) — never a token, secret or Authorization value. */
  details: string[];
}

export interface DemoContext {
  stack: StackFile;
  /** PEM of the emulator's CA (the stack's `caCertFile`). */
  ca: string;
}

export function demoContext(stack: StackFile): DemoContext {
  return { stack, ca: readFileSync(resolveStackPath(stack.caCertFile), 'utf8') };
}

/** The claims of a JWT worth showing (the token itself is never printed). */
export function describeClaims(jwt: string): string {
  try {
    const payload = JSON.parse(Buffer.from(jwt.split('.')[1] ?? '', 'base64url').toString('utf8')) as Record<
      string,
      unknown
    >;
    const shown: Record<string, unknown> = {};
    for (const name of ['aud', 'iss', 'azp', 'appid', 'roles', 'idtyp', 'exp']) {
      if (payload[name] !== undefined) shown[name] = payload[name];
    }
    return JSON.stringify(shown);
  } catch {
    return '(not a JWT)';
  }
}

/** A caller's own app-only token from the emulated Entra (client credentials with its secret). */
export async function requestCallerToken(
  ctx: DemoContext,
  caller: StackCaller,
): Promise<{ response: LocalResponse; token: string | undefined }> {
  const body = new URLSearchParams({
    grant_type: 'client_credentials',
    client_id: caller.clientId,
    client_secret: caller.clientSecret,
    scope: callerTokenScope(caller),
  }).toString();
  const response = await localFetch(ctx.stack.entra.tokenEndpoint, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body,
    ca: ctx.ca,
  });
  const token = (response.json as { access_token?: unknown } | undefined)?.access_token;
  return { response, token: typeof token === 'string' ? token : undefined };
}

/** `POST /api/token` on the broker with a caller token and a form-encoded scope. */
export function requestBrokerToken(ctx: DemoContext, callerToken: string, scope: string): Promise<LocalResponse> {
  return localFetch(`${ctx.stack.broker.url}/api/token`, {
    method: 'POST',
    headers: { authorization: `Bearer ${callerToken}`, 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ scope }).toString(),
  });
}

export function callThirdPartyApi(ctx: DemoContext, accessToken: string): Promise<LocalResponse> {
  return localFetch(ctx.stack.thirdPartyApi.url, { headers: { authorization: `Bearer ${accessToken}` }, ca: ctx.ca });
}

export function allowedCaller(stack: StackFile): StackCaller {
  const caller = stack.callers.find((c) => c.allowedScopes.includes(stack.scopes[0] as string));
  if (!caller) throw new Error('stack.json lists no caller allowed the default scope');
  return caller;
}

export function deniedCaller(stack: StackFile): StackCaller {
  const caller = stack.callers.find((c) => c.allowedScopes.length === 0);
  if (!caller) throw new Error('stack.json lists no caller that is allowed nothing');
  return caller;
}

/**
 * The workload's own credential, as a workload with an app registration holds it: a client secret,
 * against the emulated Entra (its CA passed explicitly; no instance discovery off the machine).
 */
export function workloadCredential(ctx: DemoContext, caller: StackCaller): ClientSecretCredential {
  return new ClientSecretCredential(ctx.stack.entra.tenantId, caller.clientId, caller.clientSecret, {
    authorityHost: ctx.stack.entra.authorityHost,
    disableInstanceDiscovery: true,
    tlsOptions: { ca: ctx.ca },
  });
}

/** The workload's side of the broker: BrokerCredential over its own credential (see client/). */
export function workloadBrokerCredential(
  ctx: DemoContext,
  caller: StackCaller,
  credential: TokenCredential = workloadCredential(ctx, caller),
): BrokerCredential {
  return new BrokerCredential({ brokerUrl: ctx.stack.broker.url, brokerScope: callerTokenScope(caller), credential });
}

function describeFailure(error: unknown): string {
  if (error instanceof BrokerRequestError) return `${error.code} (${error.status}): ${error.message}`;
  return error instanceof Error ? error.message : String(error);
}

function errorOf(response: LocalResponse): string {
  const json = response.json as { error?: unknown; error_description?: unknown } | undefined;
  return json?.error
    ? `${JSON.stringify(json.error)}: ${JSON.stringify(json.error_description ?? '')}`
    : response.text.slice(0, 200);
}

/**
 * Walks the flow the broker exists for, step by step: a workload gets its own token from Entra, asks
 * the broker for a third-party token, calls the third-party API with it; the API refuses the
 * workload's own token; a caller that is not allowed is refused with 403.
 * Calls `report` after each step; stops at the first step the rest depends on.
 */
export async function runDemoSteps(
  ctx: DemoContext,
  report: (step: DemoStep) => void = () => undefined,
): Promise<DemoStep[]> {
  const steps: DemoStep[] = [];
  const record = (step: DemoStep): DemoStep => {
    steps.push(step);
    report(step);
    return step;
  };
  const { stack } = ctx;
  const scope = stack.scopes[0] as string;
  const workload = allowedCaller(stack);

  const ownCredential = workloadCredential(ctx, workload);
  const own = await ownCredential.getToken(callerTokenScope(workload)).then(
    (token) => ({ token: token.token, failure: undefined }),
    (error: unknown) => ({ token: undefined, failure: describeFailure(error) }),
  );
  record({
    title: `Workload "${workload.name}" gets its own token from Entra (ClientSecretCredential, scope ${callerTokenScope(workload)})`,
    ok: own.token !== undefined,
    details: own.token
      ? [`from ${stack.entra.tokenEndpoint}`, `claims ${describeClaims(own.token)}`]
      : [own.failure ?? 'no token'],
  });
  if (!own.token) return steps;

  const credential = workloadBrokerCredential(ctx, workload, ownCredential);
  const startedMs = Date.now();
  const brokered = await credential.getToken(scope).then(
    (token) => ({ token, failure: undefined }),
    (error: unknown) => ({ token: undefined, failure: describeFailure(error) }),
  );
  const served = brokered.token;
  const accessToken = served?.token;
  const again = served ? await credential.getToken(scope) : undefined;
  record({
    title: `It asks the broker through BrokerCredential: POST ${stack.broker.url}/api/token with scope ${scope}`,
    ok:
      served !== undefined &&
      served.tokenType === 'Bearer' &&
      served.expiresOnTimestamp > startedMs &&
      served.refreshAfterTimestamp !== undefined &&
      served.refreshAfterTimestamp > startedMs &&
      served.refreshAfterTimestamp < served.expiresOnTimestamp &&
      again === served,
    details: served
      ? [
          `expires in ${Math.round((served.expiresOnTimestamp - startedMs) / 1000)} s, refreshed after ${Math.round(((served.refreshAfterTimestamp ?? 0) - startedMs) / 1000)} s (the broker's refresh_in)`,
          `a second getToken is served from the credential's cache: ${again === served ? 'yes' : 'no'}`,
          `third-party token claims ${describeClaims(served.token)}`,
        ]
      : [brokered.failure ?? 'no token'],
  });
  if (!accessToken) return steps;

  const api = await callThirdPartyApi(ctx, accessToken);
  record({
    title: `It calls the third-party API (${stack.thirdPartyApi.url}) with the broker's token`,
    ok: api.status === 200,
    details: [`${api.status}: ${api.text.slice(0, 200)}`],
  });

  const wrong = await callThirdPartyApi(ctx, own.token);
  record({
    title: "The third-party API refuses the workload's own token (issued for the broker, not for it)",
    ok: wrong.status === 401 || wrong.status === 403,
    details: [`${wrong.status}: ${errorOf(wrong)}`],
  });

  const outsider = deniedCaller(stack);
  const refused = await workloadBrokerCredential(ctx, outsider)
    .getToken(scope)
    .then(
      () => undefined,
      (error: unknown) => error,
    );
  record({
    title: `Caller "${outsider.name}" (valid token, allowed no scope) asks the broker for ${scope}: refused`,
    ok: refused instanceof BrokerRequestError && refused.status === 403 && refused.error === 'insufficient_scope',
    details: [refused === undefined ? 'it got a token' : describeFailure(refused)],
  });
  return steps;
}
