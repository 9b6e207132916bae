import { readFileSync } from 'node:fs';
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
    for (const name of ['aud', 'iss', 'ver', 'azp', 'appid', 'roles', 'idtyp', 'exp']) {
      if (payload[name] !== undefined) shown[name] = payload[name];
    }
    return JSON.stringify(shown);
  } catch {
    return '(not a JWT)';
  }
}

/**
 * A caller's own app-only token: from the managed identity endpoint for a managed identity caller
 * (App Service protocol), else from the emulated Entra (client credentials with its secret).
 */
export async function requestCallerToken(
  ctx: DemoContext,
  caller: StackCaller,
): Promise<{ response: LocalResponse; token: string | undefined }> {
  if (caller.managedIdentity) {
    const url = new URL(caller.managedIdentity.identityEndpoint);
    url.searchParams.set('api-version', '2019-08-01');
    url.searchParams.set('resource', callerTokenScope(caller).replace(/\/\.default$/, ''));
    url.searchParams.set('client_id', caller.clientId);
    const response = await localFetch(url.href, {
      method: 'GET',
      headers: { 'x-identity-header': caller.managedIdentity.identityHeader },
      ca: ctx.ca,
    });
    const token = (response.json as { access_token?: unknown } | undefined)?.access_token;
    return { response, token: typeof token === 'string' ? token : undefined };
  }
  const body = new URLSearchParams({
    grant_type: 'client_credentials',
    client_id: caller.clientId,
    client_secret: caller.clientSecret ?? '',
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

/** The caller the demo walks with: a managed identity allowed the default scope (what deployed callers mostly are), else any. */
export function allowedCaller(stack: StackFile): StackCaller {
  const allowed = stack.callers.filter((c) => c.allowedScopes.includes(stack.scopes[0] as string));
  const caller = allowed.find((c) => c.managedIdentity) ?? allowed[0];
  if (!caller) throw new Error('stack.json lists no caller allowed the default scope');
  return caller;
}

export function deniedCaller(stack: StackFile): StackCaller {
  const caller = stack.callers.find((c) => c.allowedScopes.length === 0);
  if (!caller) throw new Error('stack.json lists no caller that is allowed nothing');
  return caller;
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

  const own = await requestCallerToken(ctx, workload);
  record({
    title: workload.managedIdentity
      ? `Workload "${workload.name}" gets its own token from its managed identity (resource ${callerTokenScope(workload)}; a v1 token, as Entra issues for an API that keeps the default accepted version)`
      : `Workload "${workload.name}" gets its own token from Entra (client credentials, scope ${callerTokenScope(workload)})`,
    ok: own.response.status === 200 && own.token !== undefined,
    details: own.token
      ? [`200 from ${stack.entra.tokenEndpoint}`, `claims ${describeClaims(own.token)}`]
      : [`${own.response.status}: ${errorOf(own.response)}`],
  });
  if (!own.token) return steps;

  const brokered = await requestBrokerToken(ctx, own.token, scope);
  const served = brokered.json as Record<string, unknown> | undefined;
  const accessToken = typeof served?.access_token === 'string' ? served.access_token : undefined;
  record({
    title: `It calls the broker: POST ${stack.broker.url}/api/token with scope ${scope}`,
    ok:
      brokered.status === 200 &&
      accessToken !== undefined &&
      served?.token_type === 'Bearer' &&
      typeof served.expires_in === 'number' &&
      served.expires_in > 0 &&
      brokered.headers['cache-control'] === 'no-store',
    details:
      brokered.status === 200 && accessToken
        ? [
            `200, token_type ${String(served?.token_type)}, expires_in ${String(served?.expires_in)} s, refresh_in ${String(served?.refresh_in)} s, scope ${String(served?.scope)}`,
            `Cache-Control: ${String(brokered.headers['cache-control'])}`,
            `third-party token claims ${describeClaims(accessToken)}`,
          ]
        : [`${brokered.status}: ${errorOf(brokered)}`],
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
  const outsiderToken = await requestCallerToken(ctx, outsider);
  if (!outsiderToken.token) {
    record({
      title: `Caller "${outsider.name}" gets its own token from Entra`,
      ok: false,
      details: [`${outsiderToken.response.status}: ${errorOf(outsiderToken.response)}`],
    });
    return steps;
  }
  const refused = await requestBrokerToken(ctx, outsiderToken.token, scope);
  record({
    title: `Caller "${outsider.name}" (valid token, allowed no scope) asks the broker for ${scope}: refused`,
    ok: refused.status === 403 && (refused.json as { error?: unknown } | undefined)?.error === 'insufficient_scope',
    details: [
      `${refused.status}: ${errorOf(refused)}`,
      `WWW-Authenticate: ${String(refused.headers['www-authenticate'])}`,
    ],
  });
  return steps;
}
