/**
 * A small evaluator for the ARM template expressions our compiled Bicep uses in conditions, role
 * definition IDs and scopes, so tests can ask "with credentialKind=certificate, which role
 * assignments are deployed, with which role, on which scope?" instead of matching strings.
 *
 * Supports: string/number literals, `true()`/`false()`, property access and indexing, the
 * functions listed in FUNCTIONS, `copyIndex()` inside a copy loop, and `lambda(...)` for `filter` and
 * `map`. `if` evaluates only the branch it takes (a template may guard a `reference()` with it).
 * Anything else throws, so a test never silently misreads a template.
 */

export type ArmValue = null | boolean | number | string | ArmValue[] | { [key: string]: ArmValue };

export interface EvaluationScope {
  /** The template's `variables` section. */
  readonly variables: Readonly<Record<string, ArmValue>>;
  /** Values of the template's parameters. */
  readonly parameters: Readonly<Record<string, ArmValue>>;
  /** The iteration of a copy loop, for `copyIndex()`. */
  readonly copyIndex?: number;
  /** `reference('module')` of a module by symbolic name (what the caller knows of its outputs). */
  readonly reference?: (name: string) => ArmValue;
  /** Arguments of the lambda being evaluated, for `lambdaVariables('x')`. */
  readonly lambdaVariables?: Readonly<Record<string, ArmValue>>;
}

/** A `lambda(...)` value: its parameter names and the unevaluated text of its body. */
interface Lambda {
  readonly lambdaParameters: string[];
  readonly lambdaBody: string;
}

type Fn = (args: ArmValue[], scope: EvaluationScope) => ArmValue;

const FUNCTIONS: Readonly<Record<string, Fn>> = {
  parameters: ([name], scope) => lookupIn(scope.parameters, 'parameter', name),
  variables: ([name], scope) => evaluateValue(lookupIn(scope.variables, 'variable', name), scope),
  equals: ([a, b]) => JSON.stringify(a) === JSON.stringify(b),
  and: (args) => args.every((arg) => truthy(arg)),
  or: (args) => args.some((arg) => truthy(arg)),
  not: ([a]) => !truthy(a),
  empty: ([a]) =>
    a === null ||
    a === '' ||
    (Array.isArray(a) ? a.length === 0 : typeof a === 'object' && Object.keys(a).length === 0),
  true: () => true,
  false: () => false,
  // Resource IDs become readable paths: type segments and names interleaved.
  resourceId: (args) => resourcePath(args),
  subscriptionResourceId: (args) => `/subscriptions/{sub}${resourcePath(args)}`,
  createArray: (args) => args,
  join: ([items, separator]) => {
    if (!Array.isArray(items)) throw new Error('join() wants an array');
    return items.map(text).join(text(separator ?? ''));
  },
  string: ([value]) => text(value ?? null),
  format: ([pattern, ...args]) =>
    text(pattern ?? '').replace(/\{(\d+)\}/g, (_, index: string) => text(args[Number(index)] ?? '')),
  // The public cloud's values, enough for names and endpoints built from environment().
  environment: () => ({
    name: 'AzureCloud',
    authentication: { loginEndpoint: 'https://login.microsoftonline.com/' },
    suffixes: { keyvaultDns: '.vault.azure.net', storage: 'core.windows.net' },
  }),
  copyIndex: (_, scope) => {
    if (scope.copyIndex === undefined) throw new Error('copyIndex() outside a copy loop');
    return scope.copyIndex;
  },
  lambdaVariables: ([name], scope) => lookupIn(scope.lambdaVariables ?? {}, 'lambda variable', name),
  length: ([a]) => {
    if (typeof a === 'string' || Array.isArray(a)) return a.length;
    if (a !== null && typeof a === 'object') return Object.keys(a).length;
    throw new Error(`length() of ${JSON.stringify(a)}`);
  },
  split: ([a, separator]) => stringArg(a, 'split').split(stringArg(separator, 'split')),
  trim: ([a]) => stringArg(a, 'trim').trim(),
  toLower: ([a]) => stringArg(a, 'toLower').toLowerCase(),
  endsWith: ([a, b]) => stringArg(a, 'endsWith').endsWith(stringArg(b, 'endsWith')),
  add: ([a, b]) => {
    if (typeof a !== 'number' || typeof b !== 'number') throw new Error('add() wants numbers');
    return a + b;
  },
  reference: ([name, ...rest], scope) => {
    if (scope.reference === undefined || typeof name !== 'string' || rest.length > 0) {
      throw new Error(`unsupported function reference(${JSON.stringify([name, ...rest])})`);
    }
    return scope.reference(name);
  },
  replace: ([a, from, to]) => stringArg(a, 'replace').split(stringArg(from, 'replace')).join(stringArg(to, 'replace')),
  greater: ([a, b]) => {
    if (typeof a !== 'number' || typeof b !== 'number') throw new Error('greater() wants numbers');
    return a > b;
  },
  cidrSubnet: ([network, newPrefixLength, index]) => cidrSubnet(network, newPrefixLength, index),
  json: ([a]) => JSON.parse(stringArg(a, 'json')) as ArmValue,
  objectKeys: ([a]) => Object.keys(objectArg(a, 'objectKeys')),
  createObject: (args) => {
    const result: Record<string, ArmValue> = {};
    for (let i = 0; i + 1 < args.length; i += 2) result[stringArg(args[i], 'createObject')] = args[i + 1]!;
    return result;
  },
  union: (args) => Object.assign({}, ...args.map((a) => objectArg(a, 'union'))) as ArmValue,
  concat: (args) => args.flatMap((a) => (Array.isArray(a) ? a : [a])),
  null: () => null,
  coalesce: (args) => args.find((a) => a !== null) ?? null,
  // tryGet(value, key1, key2, ...): null as soon as a key is missing (Bicep's `.?`).
  tryGet: ([value, ...keys]) =>
    keys.reduce<ArmValue>((current, key) => {
      if (current === null || typeof current !== 'object') return null;
      if (Array.isArray(current)) return typeof key === 'number' ? (current[key] ?? null) : null;
      return typeof key === 'string' ? (current[key] ?? null) : null;
    }, value ?? null),
  filter: ([items, fn], scope) =>
    arrayArg(items, 'filter').filter((item, index) => truthy(callLambda(fn, [item, index], scope))),
  map: ([items, fn], scope) => arrayArg(items, 'map').map((item, index) => callLambda(fn, [item, index], scope)),
};

/** IPv4 only: the `index`-th subnet of length `newPrefixLength` in `network` (ARM's cidrSubnet). */
function cidrSubnet(network: ArmValue | undefined, newPrefixLength: ArmValue | undefined, index: ArmValue | undefined) {
  const text = stringArg(network, 'cidrSubnet');
  const match = /^(\d+)\.(\d+)\.(\d+)\.(\d+)\/(\d+)$/.exec(text);
  if (!match || typeof newPrefixLength !== 'number' || typeof index !== 'number') {
    throw new Error(`cidrSubnet() of ${JSON.stringify([network, newPrefixLength, index])}`);
  }
  const [a, b, c, d, prefix] = match.slice(1).map(Number) as [number, number, number, number, number];
  if (newPrefixLength < prefix || newPrefixLength > 32 || index >= 2 ** (newPrefixLength - prefix)) {
    throw new Error(`cidrSubnet(): no subnet ${index} of length ${newPrefixLength} in ${text}`);
  }
  const base = (((a << 24) | (b << 16) | (c << 8) | d) >>> 0) & (prefix === 0 ? 0 : (~0 << (32 - prefix)) >>> 0);
  const start = (base + index * 2 ** (32 - newPrefixLength)) >>> 0;
  const octets = [start >>> 24, (start >>> 16) & 255, (start >>> 8) & 255, start & 255];
  return `${octets.join('.')}/${newPrefixLength}`;
}

function stringArg(value: ArmValue | undefined, fn: string): string {
  if (typeof value !== 'string') throw new Error(`${fn}() wants a string, got ${JSON.stringify(value)}`);
  return value;
}

function arrayArg(value: ArmValue | undefined, fn: string): ArmValue[] {
  if (!Array.isArray(value)) throw new Error(`${fn}() wants an array, got ${JSON.stringify(value)}`);
  return value;
}

function objectArg(value: ArmValue | undefined, fn: string): Record<string, ArmValue> {
  if (value === null || value === undefined || typeof value !== 'object' || Array.isArray(value)) {
    throw new Error(`${fn}() wants an object, got ${JSON.stringify(value)}`);
  }
  return value;
}

function isLambda(value: ArmValue | undefined): value is ArmValue & Lambda {
  return value !== null && typeof value === 'object' && !Array.isArray(value) && 'lambdaBody' in value;
}

/** Calls a lambda with (item, index): ARM passes the index only to two-parameter lambdas. */
function callLambda(fn: ArmValue | undefined, args: ArmValue[], scope: EvaluationScope): ArmValue {
  if (!isLambda(fn)) throw new Error(`expected a lambda, got ${JSON.stringify(fn)}`);
  const bound = Object.fromEntries(fn.lambdaParameters.map((name, i) => [name, args[i] ?? null]));
  return evaluateExpression(fn.lambdaBody, { ...scope, lambdaVariables: { ...scope.lambdaVariables, ...bound } });
}

function lookupIn(source: Readonly<Record<string, ArmValue>>, kind: string, name: ArmValue | undefined): ArmValue {
  if (typeof name !== 'string' || !(name in source)) throw new Error(`unknown ${kind} ${JSON.stringify(name)}`);
  return source[name]!;
}

function truthy(value: ArmValue | undefined): boolean {
  if (typeof value !== 'boolean') throw new Error(`expected a boolean, got ${JSON.stringify(value)}`);
  return value;
}

function text(value: ArmValue): string {
  return typeof value === 'string' ? value : JSON.stringify(value);
}

function resourcePath(args: ArmValue[]): string {
  const [type, ...names] = args.map(text);
  const [namespace, ...types] = (type ?? '').split('/');
  const segments = types.flatMap((segment, index) => [segment, names[index] ?? '?']);
  return `/providers/${namespace}/${segments.join('/')}`;
}

/** Evaluates a template value: `[...]` strings are expressions; arrays and objects element-wise. */
export function evaluateValue(value: ArmValue, scope: EvaluationScope): ArmValue {
  if (typeof value === 'string') {
    if (value.startsWith('[[')) return value.slice(1);
    if (value.startsWith('[') && value.endsWith(']')) return evaluateExpression(value.slice(1, -1), scope);
    return value;
  }
  if (Array.isArray(value)) return value.map((item) => evaluateValue(item, scope));
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, evaluateValue(item, scope)]));
  }
  return value;
}

/** Evaluates the text of one ARM expression (without the surrounding brackets). */
export function evaluateExpression(text: string, scope: EvaluationScope): ArmValue {
  const parser = new Parser(text, scope);
  const value = parser.expression();
  parser.end();
  return value;
}

class Parser {
  private position = 0;

  constructor(
    private readonly text: string,
    private readonly scope: EvaluationScope,
  ) {}

  end(): void {
    this.skipSpace();
    if (this.position !== this.text.length) this.fail('unexpected text');
  }

  expression(): ArmValue {
    let value = this.primary();
    for (;;) {
      this.skipSpace();
      const next = this.text[this.position];
      if (next === '.') {
        this.position++;
        value = this.member(value, this.identifier());
      } else if (next === '[') {
        this.position++;
        const key = this.expression();
        this.expect(']');
        value = this.member(value, key);
      } else {
        return value;
      }
    }
  }

  private primary(): ArmValue {
    this.skipSpace();
    const next = this.text[this.position];
    if (next === "'") return this.stringLiteral();
    if (next !== undefined && /[-\d]/.test(next)) {
      const match = /^-?\d+/.exec(this.text.slice(this.position));
      if (!match) this.fail('bad number');
      this.position += match[0].length;
      return Number(match[0]);
    }
    const name = this.identifier();
    if (name === 'if') return this.lazyIf();
    if (name === 'lambda') return this.lambda();
    const fn = FUNCTIONS[name];
    if (fn === undefined) this.fail(`unsupported function ${name}`);
    this.expect('(');
    const args: ArmValue[] = [];
    this.skipSpace();
    if (this.text[this.position] !== ')') {
      for (;;) {
        args.push(this.expression());
        this.skipSpace();
        if (this.text[this.position] === ',') {
          this.position++;
          continue;
        }
        break;
      }
    }
    this.expect(')');
    return fn(args, this.scope);
  }

  /** `if(condition, a, b)`: only the branch taken is evaluated; the other is skipped unread. */
  private lazyIf(): ArmValue {
    this.expect('(');
    const condition = truthy(this.expression());
    this.expect(',');
    let value: ArmValue = null;
    if (condition) value = this.expression();
    else this.skipArgument();
    this.expect(',');
    if (condition) this.skipArgument();
    else value = this.expression();
    this.expect(')');
    return value;
  }

  /** `lambda('a', 'b', body)`: the names, and the body's text for later evaluation. */
  private lambda(): ArmValue {
    this.expect('(');
    const names: string[] = [];
    for (;;) {
      this.skipSpace();
      const start = this.position;
      this.skipArgument();
      this.skipSpace();
      if (this.text[this.position] === ')') {
        const body = this.text.slice(start, this.position).trim();
        this.position++;
        const lambda: Lambda = { lambdaParameters: names, lambdaBody: body };
        return lambda as unknown as ArmValue;
      }
      this.position = start;
      names.push(this.stringLiteral());
      this.expect(',');
    }
  }

  /** Moves past one argument (up to a top-level `,` or `)`) without evaluating it. */
  private skipArgument(): void {
    let depth = 0;
    for (;;) {
      const char = this.text[this.position];
      if (char === undefined) this.fail('unterminated argument');
      if (char === "'") {
        this.stringLiteral();
        continue;
      }
      if ((char === ',' || char === ')') && depth === 0) return;
      if (char === '(' || char === '[') depth++;
      if (char === ')' || char === ']') depth--;
      this.position++;
    }
  }

  private member(value: ArmValue, key: ArmValue): ArmValue {
    if (Array.isArray(value) && typeof key === 'number') return value[key] ?? this.fail(`no index ${key}`);
    if (value !== null && typeof value === 'object' && !Array.isArray(value) && typeof key === 'string') {
      if (key in value) return value[key]!;
    }
    return this.fail(`no member ${JSON.stringify(key)}`);
  }

  private stringLiteral(): string {
    let result = '';
    this.skipSpace();
    if (this.text[this.position] !== "'") this.fail('expected a string');
    this.position++;
    for (;;) {
      const char = this.text[this.position++];
      if (char === undefined) this.fail('unterminated string');
      if (char === "'") {
        if (this.text[this.position] === "'") {
          result += "'";
          this.position++;
          continue;
        }
        return result;
      }
      result += char;
    }
  }

  private identifier(): string {
    this.skipSpace();
    const match = /^[A-Za-z_][A-Za-z0-9_]*/.exec(this.text.slice(this.position));
    if (!match) this.fail('expected a name');
    this.position += match[0].length;
    return match[0];
  }

  private expect(char: string): void {
    this.skipSpace();
    if (this.text[this.position] !== char) this.fail(`expected ${char}`);
    this.position++;
  }

  private skipSpace(): void {
    while (this.text[this.position] === ' ') this.position++;
  }

  private fail(what: string): never {
    throw new Error(`ARM expression: ${what} at ${this.position} in [${this.text}]`);
  }
}
