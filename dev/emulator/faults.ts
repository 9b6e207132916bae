import type { ServerResponse } from 'node:http';
import { randomUUID } from 'node:crypto';
import { sendJson, sendText } from './http';

export type FaultTarget = 'token' | 'keyvault' | 'jwks' | 'msi';
export const FAULT_TARGETS: readonly FaultTarget[] = ['token', 'keyvault', 'jwks', 'msi'];

/**
 * A fault injected into one emulated service. `malformedBody` (an extension of the agreed API)
 * picks the kind of broken 200: `html` (a proxy's error page), `truncated` JSON, `no-token` (valid
 * JSON without `access_token`), `bad-expiry` (`expires_in` not a number). Default: `html` for token
 * and msi, `truncated` for keyvault and jwks.
 */
export interface FaultSpec {
  target: FaultTarget;
  mode: 'status' | 'hang' | 'malformed';
  status?: number;
  retryAfter?: number;
  count?: number;
  malformedBody?: 'html' | 'truncated' | 'no-token' | 'bad-expiry';
  /** Extension: a `token` fault that only hits requests with this `client_id` (e.g. the broker's). */
  clientId?: string;
  /** Extension: this many matching requests pass untouched before the fault hits (e.g. a later listing page). */
  after?: number;
}

interface ActiveFault {
  spec: FaultSpec;
  remaining: number;
  passLeft: number;
}

/** Validates a fault from the control API; returns a description of the problem or the spec. */
export function parseFaultSpec(value: unknown): FaultSpec | string {
  if (value === null || typeof value !== 'object') return 'the body must be a JSON object';
  const v = value as Record<string, unknown>;
  if (!FAULT_TARGETS.includes(v.target as FaultTarget)) return `target must be one of ${FAULT_TARGETS.join(', ')}`;
  if (v.mode !== 'status' && v.mode !== 'hang' && v.mode !== 'malformed')
    return 'mode must be status, hang or malformed';
  const spec: FaultSpec = { target: v.target as FaultTarget, mode: v.mode };
  if (v.status !== undefined) {
    if (typeof v.status !== 'number' || !Number.isInteger(v.status) || v.status < 100 || v.status > 599)
      return 'status must be an HTTP status code';
    spec.status = v.status;
  }
  if (v.retryAfter !== undefined) {
    if (typeof v.retryAfter !== 'number' || v.retryAfter < 0) return 'retryAfter must be a number of seconds';
    spec.retryAfter = v.retryAfter;
  }
  if (v.count !== undefined) {
    if (typeof v.count !== 'number' || !Number.isInteger(v.count) || v.count < 1)
      return 'count must be a positive whole number';
    spec.count = v.count;
  }
  if (v.malformedBody !== undefined) {
    if (!['html', 'truncated', 'no-token', 'bad-expiry'].includes(v.malformedBody as string))
      return 'malformedBody must be html, truncated, no-token or bad-expiry';
    spec.malformedBody = v.malformedBody as FaultSpec['malformedBody'];
  }
  if (v.clientId !== undefined) {
    if (typeof v.clientId !== 'string' || v.clientId === '') return 'clientId must be a client ID';
    spec.clientId = v.clientId;
  }
  if (v.after !== undefined) {
    if (typeof v.after !== 'number' || !Number.isInteger(v.after) || v.after < 0)
      return 'after must be a whole number of requests';
    spec.after = v.after;
  }
  if (spec.mode === 'status' && spec.status === undefined) return 'mode status needs a status';
  return spec;
}

/** Faults per target, consumed one per request (keep-alive connections count each request). */
export class FaultInjector {
  private readonly active = new Map<FaultTarget, ActiveFault[]>();
  private readonly hanging = new Set<ServerResponse>();

  set(spec: FaultSpec): void {
    const list = this.active.get(spec.target) ?? [];
    list.push({ spec: { ...spec }, remaining: spec.count ?? Number.POSITIVE_INFINITY, passLeft: spec.after ?? 0 });
    this.active.set(spec.target, list);
  }

  /** Clears every fault and drops the connections held by `hang` faults. */
  clear(): void {
    this.active.clear();
    this.releaseHanging();
  }

  releaseHanging(): void {
    for (const res of this.hanging) res.socket?.destroy();
    this.hanging.clear();
  }

  list(): FaultSpec[] {
    return [...this.active.values()].flat().map((fault) => {
      const { after: _after, ...spec } = fault.spec;
      return {
        ...spec,
        ...(Number.isFinite(fault.remaining) ? { count: fault.remaining } : {}),
        ...(fault.passLeft > 0 ? { after: fault.passLeft } : {}),
      };
    });
  }

  /** Takes the next fault for a target (and client, for faults restricted to one), if any. */
  take(target: FaultTarget, clientId?: string): FaultSpec | undefined {
    const list = this.active.get(target);
    if (!list) return undefined;
    const index = list.findIndex(
      (candidate) =>
        candidate.spec.clientId === undefined || candidate.spec.clientId.toLowerCase() === clientId?.toLowerCase(),
    );
    const fault = list[index];
    if (!fault) return undefined;
    if (fault.passLeft > 0) {
      fault.passLeft -= 1;
      return undefined;
    }
    fault.remaining -= 1;
    if (fault.remaining <= 0) list.splice(index, 1);
    return fault.spec;
  }

  /**
   * Answers the request with the next fault of `target`, if there is one.
   * @returns true when the fault answered (or is holding) the request.
   */
  apply(target: FaultTarget, res: ServerResponse, clientId?: string): boolean {
    const fault = this.take(target, clientId);
    if (!fault) return false;
    switch (fault.mode) {
      case 'hang':
        // Keep the socket open with no answer; cleared faults or close() destroy it.
        this.hanging.add(res);
        res.on('close', () => this.hanging.delete(res));
        return true;
      case 'malformed':
        sendMalformed(target, fault, res);
        return true;
      case 'status':
        sendFaultStatus(target, fault, res);
        return true;
    }
  }
}

function sendMalformed(target: FaultTarget, fault: FaultSpec, res: ServerResponse): void {
  const kind = fault.malformedBody ?? (target === 'token' || target === 'msi' ? 'html' : 'truncated');
  switch (kind) {
    case 'html':
      sendText(
        res,
        200,
        '<!DOCTYPE html><html><head><title>Sign in</title></head><body><p>Gateway error page</p></body></html>',
        'text/html; charset=utf-8',
      );
      return;
    case 'truncated':
      sendText(res, 200, '{"token_type":"Bearer","expires_in":3599,"access_tok', 'application/json; charset=utf-8');
      return;
    case 'no-token':
      sendJson(res, 200, { token_type: 'Bearer', expires_in: 3599, ext_expires_in: 3599 });
      return;
    case 'bad-expiry':
      sendJson(res, 200, {
        token_type: 'Bearer',
        expires_in: 'soon',
        ext_expires_in: 'soon',
        expires_on: 'soon',
        access_token: 'eyJhbGciOiJub25lIn0.e30.',
      });
      return;
  }
}

function sendFaultStatus(target: FaultTarget, fault: FaultSpec, res: ServerResponse): void {
  const status = fault.status ?? 500;
  const headers: Record<string, string> = {};
  if (fault.retryAfter !== undefined) headers['Retry-After'] = String(fault.retryAfter);
  const traceId = randomUUID();
  switch (target) {
    case 'token': {
      if (status === 429) {
        // Azure fidelity: "throttling shapes" (docs/azure-fidelity.md): Entra's throttling answer
        // is plain text, not the OAuth error JSON; the wait is in Retry-After when it is sent.
        sendText(res, 429, 'Too Many Requests', 'text/plain; charset=utf-8', headers);
        return;
      }
      const code = 90033;
      const error = status >= 500 ? 'server_error' : 'invalid_request';
      const message = 'A transient error has occurred. Please try again.';
      sendJson(
        res,
        status,
        {
          error,
          error_description: `AADSTS${code}: ${message} Trace ID: ${traceId}`,
          error_codes: [code],
          timestamp: new Date()
            .toISOString()
            .replace('T', ' ')
            .replace(/\.\d+Z$/, 'Z'),
          trace_id: traceId,
          correlation_id: randomUUID(),
        },
        headers,
      );
      return;
    }
    case 'keyvault': {
      // Azure fidelity: "throttling shapes": a Key Vault 429 carries Retry-After only when the
      // fault sets one (Key Vault may leave it out).
      const code = status === 429 ? 'Throttled' : status === 403 ? 'Forbidden' : 'InternalServerError';
      const message =
        status === 429
          ? 'Request was not processed because too many requests were received. Reason: VaultRequestTypeLimitReached'
          : status === 403
            ? 'Client address is not authorized and caller is not a trusted service.'
            : 'The service encountered an internal error.';
      sendJson(res, status, { error: { code, message } }, headers);
      return;
    }
    case 'msi':
      sendJson(
        res,
        status,
        { statusCode: status, message: 'Managed identity endpoint fault.', correlationId: traceId },
        headers,
      );
      return;
    case 'jwks':
      sendJson(res, status, { error: 'temporarily_unavailable', error_description: 'Keys are unavailable.' }, headers);
      return;
  }
}
