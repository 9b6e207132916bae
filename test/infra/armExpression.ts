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
}

type Fn = (args: ArmValue[], scope: EvaluationScope) => ArmValue;

const FUNCTIONS: Readonly<Record<string, Fn>> = {
  parameters: ([name], scope) => lookupIn(scope.parameters, 'parameter', name),
  variables: ([name], scope) => evaluateValue(lookupIn(scope.variables, 'variable', name), scope),
  equals: ([a, b]) => JSON.stringify(a) === JSON.stringify(b),
  and: (args) => args.every((arg) => truthy(arg)),
  or: (args) => args.some((arg) => truthy(arg)),
  not: ([a]) => !truthy(a),
  if: ([condition, whenTrue, whenFalse]) => (truthy(condition) ? whenTrue! : whenFalse!),
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
};

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

  private member(value: ArmValue, key: ArmValue): ArmValue {
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
