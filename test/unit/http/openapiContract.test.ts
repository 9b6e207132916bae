/**
 * the endpoints' actual responses match docs/openapi.yaml. The schema check below covers
 * exactly the JSON Schema subset the document uses and fails on any other keyword, so the document
 * cannot drift into constructs this test would silently ignore.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { BrokerError } from '../../../src/contract/errors';
import { createHealthHandler } from '../../../src/http/healthHandler';
import { describeScopeProblem } from '../../../src/contract/scope';
import type { CoreHttpRequest, CoreHttpResponse } from '../../../src/http/httpTypes';
import {
  CALLER_APP_ID,
  createFrontDoor,
  type FrontDoor,
  request,
  SCOPE_A,
  SCOPE_B,
} from '../../support/frontDoorFixture';

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type JsonObject = { [key: string]: Json };

const doc = parse(readFileSync(join(__dirname, '../../../docs/openapi.yaml'), 'utf8')) as JsonObject;

function resolve(node: Json | undefined): JsonObject {
  let current = node;
  for (let hops = 0; hops < 10; hops++) {
    if (current === null || typeof current !== 'object' || Array.isArray(current)) {
      throw new Error(`expected an object, got ${JSON.stringify(current)}`);
    }
    const ref = current.$ref;
    if (typeof ref !== 'string') return current;
    if (!ref.startsWith('#/')) throw new Error(`only local $ref are supported: ${ref}`);
    current = ref
      .slice(2)
      .split('/')
      .reduce<Json | undefined>((at, part) => (at as JsonObject | undefined)?.[part], doc);
    if (current === undefined) throw new Error(`unresolved $ref ${ref}`);
  }
  throw new Error('$ref chain too long');
}

const ANNOTATIONS = new Set(['description', 'examples', 'example', 'title']);

/** Problems of `value` against `schema` (the subset used by the document). */
function validate(value: unknown, schemaNode: Json, path = '$'): string[] {
  const schema = resolve(schemaNode);
  const problems: string[] = [];
  for (const [keyword, expected] of Object.entries(schema)) {
    if (ANNOTATIONS.has(keyword)) continue;
    switch (keyword) {
      case 'type': {
        const ok =
          expected === 'integer'
            ? Number.isInteger(value)
            : expected === 'object'
              ? value !== null && typeof value === 'object' && !Array.isArray(value)
              : expected === 'array'
                ? Array.isArray(value)
                : typeof value === expected;
        if (!ok) problems.push(`${path}: not ${JSON.stringify(expected)}`);
        break;
      }
      case 'const':
        if (value !== expected) problems.push(`${path}: ${JSON.stringify(value)} is not ${JSON.stringify(expected)}`);
        break;
      case 'enum':
        if (!(expected as Json[]).includes(value as Json))
          problems.push(`${path}: ${JSON.stringify(value)} not in enum`);
        break;
      case 'minimum':
        if (typeof value !== 'number' || value < (expected as number))
          problems.push(`${path}: below ${JSON.stringify(expected)}`);
        break;
      case 'minLength':
        if (typeof value !== 'string' || value.length < (expected as number)) problems.push(`${path}: too short`);
        break;
      case 'maxLength':
        if (typeof value !== 'string' || value.length > (expected as number)) problems.push(`${path}: too long`);
        break;
      case 'pattern':
        if (typeof value !== 'string' || !new RegExp(expected as string).test(value)) {
          problems.push(`${path}: does not match ${JSON.stringify(expected)}`);
        }
        break;
      case 'required':
        for (const name of expected as string[]) {
          if (typeof value !== 'object' || value === null || !(name in value))
            problems.push(`${path}.${name}: missing`);
        }
        break;
      case 'properties':
        if (typeof value === 'object' && value !== null) {
          for (const [name, sub] of Object.entries(expected as JsonObject)) {
            if (name in value)
              problems.push(...validate((value as Record<string, unknown>)[name], sub, `${path}.${name}`));
          }
        }
        break;
      case 'additionalProperties':
        if (expected === false && typeof value === 'object' && value !== null) {
          const known = Object.keys((schema.properties as JsonObject | undefined) ?? {});
          for (const name of Object.keys(value)) {
            if (!known.includes(name)) problems.push(`${path}.${name}: not allowed`);
          }
        }
        break;
      default:
        throw new Error(`schema keyword "${keyword}" at ${path} is not supported by this test; extend validate()`);
    }
  }
  return problems;
}

/** Checks one real response against the document's description of `method path`. */
function expectDocumented(path: string, method: string, response: CoreHttpResponse): void {
  const operation = resolve((doc.paths as JsonObject)[path])[method.toLowerCase()] as JsonObject | undefined;
  if (operation === undefined) throw new Error(`${method} ${path} is not in the document`);
  const described = (operation.responses as JsonObject)[String(response.status)];
  if (described === undefined) throw new Error(`${method} ${path} → ${response.status} is not documented`);
  const spec = resolve(described);
  const content = (spec.content as JsonObject)['application/json'] as JsonObject;
  expect(response.headers['Content-Type']).toBe('application/json; charset=utf-8');
  expect(validate(JSON.parse(response.body), content.schema as Json)).toEqual([]);
  for (const [name, headerNode] of Object.entries((spec.headers as JsonObject | undefined) ?? {})) {
    const header = resolve(headerNode);
    expect({ name, value: response.headers[name] }).toEqual({ name, value: expect.any(String) });
    expect(validate(response.headers[name], header.schema as Json, name)).toEqual([]);
  }
}

describe('docs/openapi.yaml', () => {
  it('is an OpenAPI 3.1 document describing both endpoints, with every $ref resolvable', () => {
    expect(doc.openapi).toBe('3.1.0');
    const paths = doc.paths as JsonObject;
    expect(Object.keys(resolve(paths['/api/token']))).toEqual(expect.arrayContaining(['get', 'post']));
    expect(Object.keys(resolve(paths['/api/health']))).toContain('get');
    const walk = (node: Json): void => {
      if (Array.isArray(node)) node.forEach(walk);
      else if (node !== null && typeof node === 'object') {
        if (typeof node.$ref === 'string') resolve(node);
        Object.values(node).forEach(walk);
      }
    };
    walk(doc);
  });

  it('describes scopes as the broker checks them', () => {
    const scope = resolve(doc.components).schemas as JsonObject;
    for (const good of [SCOPE_A, SCOPE_B, `api://${'a'.repeat(497)}/.default`]) {
      expect(describeScopeProblem(good)).toBeUndefined();
      expect(validate(good, scope.Scope as Json)).toEqual([]);
    }
    for (const bad of ['', 'api://x/read', 'api://x y/.default', '/.default', `api://${'a'.repeat(600)}/.default`]) {
      expect(describeScopeProblem(bad)).toBeDefined();
      expect(validate(bad, scope.Scope as Json)).not.toEqual([]);
    }
  });
});

describe('actual responses match docs/openapi.yaml', () => {
  let f: FrontDoor;
  beforeEach(() => {
    f = createFrontDoor({ settings: { CALLER_RATE_LIMIT_PER_MINUTE: '6' } });
  });

  const json = { 'Content-Type': 'application/json' };
  const none = (): void => undefined;
  const cases: [string, string, number, () => CoreHttpRequest, (front: FrontDoor) => void][] = [
    ['GET', 'success', 200, () => request({ headers: f.bearer() }), none],
    [
      'POST',
      'success (JSON)',
      200,
      () => request({ method: 'POST', headers: { ...f.bearer(), ...json }, body: JSON.stringify({ scope: SCOPE_A }) }),
      none,
    ],
    ['GET', 'malformed scope', 400, () => request({ url: 'http://h/api/token?scope=bad', headers: f.bearer() }), none],
    ['GET', 'no token', 401, () => request(), none],
    ['GET', 'bad token', 401, () => request({ headers: f.bearer('a.b.c') }), none],
    [
      'GET',
      'scope not granted',
      403,
      () => request({ url: `http://h/api/token?scope=${SCOPE_B}`, headers: f.bearer() }),
      none,
    ],
    ['PUT', 'method', 405, () => request({ method: 'PUT' }), none],
    ['DELETE', 'method', 405, () => request({ method: 'DELETE' }), none],
    [
      'POST',
      'large body',
      413,
      () => request({ method: 'POST', headers: { ...f.bearer(), 'Content-Length': '9000' } }),
      none,
    ],
    [
      'POST',
      'content type',
      415,
      () => request({ method: 'POST', headers: { ...f.bearer(), 'Content-Type': 'text/plain' }, body: 'x' }),
      none,
    ],
    [
      'GET',
      'rate limited',
      429,
      () => request({ headers: f.bearer() }),
      (front) => {
        for (let i = 0; i < 6; i++) front.rateLimiter.take(CALLER_APP_ID);
      },
    ],
    [
      'GET',
      'upstream down',
      503,
      () => request({ headers: f.bearer() }),
      (front) => {
        front.tokens.failure = new BrokerError('entra_transient', 'down', { retryAfterSeconds: 4 });
      },
    ],
    [
      'GET',
      'bug',
      500,
      () => request({ headers: f.bearer() }),
      (front) => {
        front.tokens.failure = new Error('bug');
      },
    ],
  ];

  it.each(cases)('%s /api/token: %s → %i', async (method, _name, status, make, arrange) => {
    arrange(f);
    const response = await f.handle(make());
    expect(response.status).toBe(status);
    expectDocumented('/api/token', method, response);
  });

  it.each([
    ['ok', 200, 'GET'],
    ['unhealthy', 503, 'GET'],
    ['ok', 405, 'POST'],
    ['ok', 405, 'DELETE'],
  ] as const)('health %s → %i for %s', async (health, status, method) => {
    const handle = createHealthHandler({ tokens: { health: () => health }, logger: f.logs.logger });
    const response = await handle(request({ method, url: 'http://h/api/health' }));
    expect(response.status).toBe(status);
    expectDocumented('/api/health', method, response);
  });
});
