/**
 * BrokerCredential against the real local stack (`npm start`: the emulator and the deployable
 * broker bundle in the local function host), in a state directory of its own and on free ports.
 * The workload's own credential is `@azure/identity`'s ClientSecretCredential for a caller the
 * emulated tenant registers — what a workload with an app registration would use.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  bearerTokenAuthenticationPolicy,
  createDefaultHttpClient,
  createEmptyPipeline,
  createPipelineRequest,
} from '@azure/core-rest-pipeline';
import { ClientSecretCredential } from '@azure/identity';
import { allowedCaller, deniedCaller } from '../../../dev/demoSteps';
import { resolveStackPath, type StackCaller, type StackFile } from '../../../dev/stackFile';
import { callerTokenScope } from '../../../dev/stackSettings';
import { killStack, type Started, startStack } from '../../../test/e2e/support';
import { BrokerCredential } from '../../src';
import { requestFailureOf } from '../support/requestFailureOf';

describe('BrokerCredential against the local stack', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'client-stack-'));
  let start: Started | undefined;
  let stack: StackFile;
  let ca: string;

  beforeAll(async () => {
    const started = await startStack(dir);
    start = started.start;
    stack = started.stack;
    ca = readFileSync(resolveStackPath(stack.caCertFile), 'utf8');
  }, 120_000);

  afterAll(async () => {
    await killStack(start);
    rmSync(dir, { recursive: true, force: true });
  });

  /** The caller's own credential, talking to the emulated Entra (its CA passed explicitly). */
  const ownCredential = (caller: StackCaller): ClientSecretCredential =>
    new ClientSecretCredential(stack.entra.tenantId, caller.clientId, caller.clientSecret, {
      authorityHost: stack.entra.authorityHost,
      disableInstanceDiscovery: true,
      tlsOptions: { ca },
    });

  const brokerCredential = (caller: StackCaller, brokerScope = callerTokenScope(caller)): BrokerCredential =>
    new BrokerCredential({ brokerUrl: stack.broker.url, brokerScope, credential: ownCredential(caller) });

  it('gets a token the third-party API accepts, and serves it again from its cache', async () => {
    const credential = brokerCredential(allowedCaller(stack));
    const scope = stack.scopes[0]!;
    const token = await credential.getToken(scope);
    expect(token.tokenType).toBe('Bearer');
    expect(token.refreshAfterTimestamp).toBeGreaterThan(Date.now());
    expect(token.refreshAfterTimestamp).toBeLessThan(token.expiresOnTimestamp);
    const api = await fetch(stack.thirdPartyApi.url, { headers: { authorization: `Bearer ${token.token}` } });
    expect(api.status).toBe(200);
    await api.arrayBuffer();
    expect(await credential.getToken(scope)).toBe(token);
  });

  it('calls the third-party API through a core-rest-pipeline pipeline with bearerTokenAuthenticationPolicy', async () => {
    const credential = brokerCredential(allowedCaller(stack));
    const pipeline = createEmptyPipeline();
    pipeline.addPolicy(bearerTokenAuthenticationPolicy({ credential, scopes: stack.scopes[0]! }));
    // The policy refuses to send a token over plain HTTP; the stand-in API speaks it on 127.0.0.1
    // only, so the request goes out as https:// and this last hop turns it into the loopback call.
    const local = new URL(stack.thirdPartyApi.url);
    pipeline.addPolicy({
      name: 'loopbackStandIn',
      sendRequest: (request, next) => {
        const url = new URL(request.url);
        url.protocol = 'http:';
        url.host = local.host;
        request.url = url.toString();
        request.allowInsecureConnection = true;
        return next(request);
      },
    });
    const httpClient = createDefaultHttpClient();
    const response = await pipeline.sendRequest(
      httpClient,
      createPipelineRequest({ url: `https://third-party.example${local.pathname}` }),
    );
    expect(response.status).toBe(200);
    expect(JSON.parse(response.bodyAsText ?? '{}')).toMatchObject({ caller: { roles: expect.any(Array) } });
  });

  it('reports a caller the broker does not allow as forbidden', async () => {
    const failure = await requestFailureOf(brokerCredential(deniedCaller(stack)).getToken(stack.scopes[0]!));
    expect(failure).toMatchObject({ code: 'forbidden', status: 403, error: 'insufficient_scope' });
  });

  it("names the audience as the likely cause when brokerScope is not the broker's API", async () => {
    // A token Entra issues for the third-party API itself, sent to the broker.
    const failure = await requestFailureOf(
      brokerCredential(allowedCaller(stack), stack.scopes[0]).getToken(stack.scopes[0]!),
    );
    expect(failure).toMatchObject({ code: 'caller_token_rejected', status: 401, likelyCause: 'audience' });
    expect(failure.message).toContain('Likely cause: the audience');
  });
});
