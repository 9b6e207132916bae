/**
 * A small evaluator for the ARM template expressions our compiled Bicep uses in conditions, role
 * definition IDs and scopes, so tests can ask "with credentialKind=certificate, which role
 * assignments are deployed, with which role, on which scope?" instead of matching strings.
 *
 * Supports: string/number literals, `true()`/`false()`, property access and indexing, and the
 * functions listed in FUNCTIONS. Anything else throws, so a test never silently misreads a template.
 */

export type ArmValue = null | boolean | number | string | ArmValue[] | { [key: string]: ArmValue };

export interface EvaluationScope {
  /** The template's `variables` section. */
  readonly variables: Readonly<Record<string, ArmValue>>;
  /** Values of the template's parameters. */
  readonly parameters: Readonly<Record<string, ArmValue>>;
  /** `copyIndex()` of a resource in a copy loop. */
  readonly copyIndex?: number;
  /** `lambdaVariables(name)` inside a lambda body. */
  readonly lambdaVariables?: Readonly<Record<string, ArmValue>>;
}

/** What `lambda(...)` evaluates to: only the functions that take one know what to do with it. */
class Lambda {
  constructor(
    readonly names: readonly string[],
    readonly body: string,
    readonly scope: EvaluationScope,
  ) {}

  call(...values: ArmValue[]): ArmValue {
    const bound = Object.fromEntries(this.names.map((name, index) => [name, values[index] ?? null]));
    return evaluateExpression(this.body, {
      ...this.scope,
      lambdaVariables: { ...this.scope.lambdaVariables, ...bound },
    });
  }
}

type Arg = ArmValue | Lambda;
type Fn = (args: Arg[], scope: EvaluationScope) => ArmValue;

const FUNCTIONS: Readonly<Record<string, Fn>> = {
  parameters: ([name], scope) => lookupIn(scope.parameters, 'parameter', value(name ?? null)),
  variables: ([name], scope) => evaluateValue(lookupIn(scope.variables, 'variable', value(name ?? null)), scope),
  equals: ([a, b]) => JSON.stringify(value(a ?? null)) === JSON.stringify(value(b ?? null)),
  and: (args) => args.every((arg) => truthy(arg)),
  or: (args) => args.some((arg) => truthy(arg)),
  not: ([a]) => !truthy(a),
  if: ([condition, whenTrue, whenFalse]) => value((truthy(condition) ? whenTrue : whenFalse) ?? null),
  empty: ([arg]) => {
    const a = value(arg ?? null);
    return (
      a === null ||
      a === '' ||
      (Array.isArray(a) ? a.length === 0 : typeof a === 'object' && Object.keys(a).length === 0)
    );
  },
  true: () => true,
  false: () => false,
  // Resource IDs become readable paths: type segments and names interleaved.
  resourceId: (args) => resourcePath(args.map(value)),
  subscriptionResourceId: (args) => `/subscriptions/{sub}${resourcePath(args.map(value))}`,
  createArray: (args) => args.map(value),
  join: ([items, separator]) =>
    array(items)
      .map(text)
      .join(text(value(separator ?? ''))),
  string: ([a]) => text(value(a ?? null)),
  format: ([pattern, ...args]) =>
    text(value(pattern ?? '')).replace(/\{(\d+)\}/g, (_, index: string) => text(value(args[Number(index)] ?? ''))),
  createObject: (args) => {
    const result: Record<string, ArmValue> = {};
    for (let index = 0; index + 1 < args.length; index += 2)
      result[text(value(args[index]!))] = value(args[index + 1]!);
    return result;
  },
  length: ([a]) => {
    const item = value(a ?? null);
    if (Array.isArray(item) || typeof item === 'string') return item.length;
    if (item !== null && typeof item === 'object') return Object.keys(item).length;
    throw new Error('length() wants an array, a string or an object');
  },
  contains: ([container, item]) => {
    const where = value(container ?? null);
    const what = value(item ?? null);
    if (Array.isArray(where)) return where.some((entry) => JSON.stringify(entry) === JSON.stringify(what));
    if (typeof where === 'string') return where.includes(text(what));
    if (where !== null && typeof where === 'object') return Object.hasOwn(where, text(what));
    throw new Error('contains() wants an array, a string or an object');
  },
  concat: (args) => {
    const items = args.map(value);
    if (items.every((item) => Array.isArray(item))) return items.flat(1);
    if (items.every((item) => typeof item === 'string')) return items.join('');
    throw new Error('concat() wants arrays or strings');
  },
  // Not ARM's hash: a readable stand-in that still shows what the GUID is derived from.
  guid: (args) => `guid(${args.map((arg) => text(value(arg))).join(', ')})`,
  union: (args) => Object.assign({}, ...args.map(object)) as Record<string, ArmValue>,
  objectKeys: ([a]) => Object.keys(object(a)).sort(),
  // ARM returns an object's entries in key order.
  items: ([a]) =>
    Object.entries(object(a))
      .sort(([x], [y]) => (x < y ? -1 : x > y ? 1 : 0))
      .map(([key, item]) => ({ key, value: item })),
  copyIndex: ([offset], scope) => {
    if (scope.copyIndex === undefined) throw new Error('copyIndex() outside a copy loop');
    return scope.copyIndex + (typeof offset === 'number' ? offset : 0);
  },
  lambdaVariables: ([name], scope) => lookupIn(scope.lambdaVariables ?? {}, 'lambda variable', value(name ?? null)),
  map: ([items, fn]) => array(items).map((item) => lambda(fn).call(item)),
  filter: ([items, fn]) => array(items).filter((item) => truthy(lambda(fn).call(item))),
  toObject: ([items, keyFn, valueFn]) =>
    Object.fromEntries(
      array(items).map((item) => [text(lambda(keyFn).call(item)), valueFn ? lambda(valueFn).call(item) : item]),
    ),
};

function value(arg: Arg): ArmValue {
  if (arg instanceof Lambda) throw new Error('a lambda where a value is expected');
  return arg;
}

function lambda(arg: Arg | undefined): Lambda {
  if (!(arg instanceof Lambda)) throw new Error('a value where a lambda is expected');
  return arg;
}

function array(arg: Arg | undefined): ArmValue[] {
  const item = value(arg ?? null);
  if (!Array.isArray(item)) throw new Error(`expected an array, got ${JSON.stringify(item)}`);
  return item;
}

function object(arg: Arg | undefined): Record<string, ArmValue> {
  const item = value(arg ?? null);
  if (item === null || typeof item !== 'object' || Array.isArray(item)) {
    throw new Error(`expected an object, got ${JSON.stringify(item)}`);
  }
  return item;
}

function lookupIn(source: Readonly<Record<string, ArmValue>>, kind: string, name: ArmValue | undefined): ArmValue {
  if (typeof name !== 'string' || !(name in source)) throw new Error(`unknown ${kind} ${JSON.stringify(name)}`);
  return source[name]!;
}

function truthy(arg: Arg | undefined): boolean {
  const item = value(arg ?? null);
  if (typeof item !== 'boolean') throw new Error(`expected a boolean, got ${JSON.stringify(item)}`);
  return item;
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
    // ARM evaluates expressions in property names too (`hidden-link:<resource ID>` tags).
    return Object.fromEntries(
      Object.entries(value).map(([key, item]) => [text(evaluateValue(key, scope)), evaluateValue(item, scope)]),
    );
  }
  return value;
}

/** Evaluates the text of one ARM expression (without the surrounding brackets). */
export function evaluateExpression(text: string, scope: EvaluationScope): ArmValue {
  const parser = new Parser(text, scope);
  const result = parser.expression();
  parser.end();
  return value(result);
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

  expression(): Arg {
    let value: Arg = this.primary();
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

  private primary(): Arg {
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
    if (name === 'lambda') return this.lambda();
    const fn = FUNCTIONS[name];
    if (fn === undefined) this.fail(`unsupported function ${name}`);
    this.expect('(');
    const args: Arg[] = [];
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

  /**
   * `lambda('a', 'b', body)`: the names are literals; the body is kept as text and evaluated per
   * call (by a parser of its own, in a scope where `lambdaVariables('a')` is bound).
   */
  private lambda(): Lambda {
    this.expect('(');
    const names: string[] = [];
    for (;;) {
      this.skipSpace();
      const start = this.position;
      const literal = this.text[start] === "'" ? this.stringLiteral() : undefined;
      this.skipSpace();
      if (literal !== undefined && this.text[this.position] === ',') {
        names.push(literal);
        this.position++;
        continue;
      }
      // The body: find where it ends without evaluating it (its lambda variables are unbound here).
      this.position = start;
      this.skipExpression();
      const body = this.text.slice(start, this.position);
      this.expect(')');
      if (names.length === 0) this.fail('a lambda without parameters');
      return new Lambda(names, body, this.scope);
    }
  }

  /** Moves past one expression (up to a top-level `,` or `)`), honouring strings and nesting. */
  private skipExpression(): void {
    let depth = 0;
    for (;;) {
      const char = this.text[this.position];
      if (char === undefined) this.fail('unterminated lambda');
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

  private member(value: Arg, key: Arg): ArmValue {
    if (value instanceof Lambda) return this.fail('member of a lambda');
    if (Array.isArray(value) && typeof key === 'number') return value[key] ?? this.fail(`no index ${key}`);
    if (value !== null && typeof value === 'object' && !Array.isArray(value) && typeof key === 'string') {
      if (key in value) return value[key]!;
    }
    return this.fail(`no member ${JSON.stringify(key)}`);
  }

  private stringLiteral(): string {
    let result = '';
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
