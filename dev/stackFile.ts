import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';

/** Which host serves the broker: the real Azure Functions host (`func start`) or dev/host. */
export type BrokerHostKind = 'func' | 'dev-host';

/** `.local/stack.json` — documented in docs/development.md, field for field. */
export interface StackFile {
  broker: { url: string; host: BrokerHostKind };
  entra: { authorityHost: string; tenantId: string; tokenEndpoint: string; jwksUri: string };
  keyVault: { url: string; credentialName: string };
  caCertFile: string;
  scopes: string[];
  callers: StackCaller[];
  thirdPartyApi: { url: string };
  control: { url: string };
}

export interface StackCaller {
  name: string;
  clientId: string;
  clientSecret: string;
  audience: string;
  allowedScopes: string[];
}

/** The repository root (dist/dev/*.js and dev/*.ts are both two levels down from it... or one). */
export function repoRoot(): string {
  let dir = __dirname;
  for (let i = 0; i < 5; i += 1) {
    if (existsSync(path.join(dir, 'package.json'))) return dir;
    dir = path.dirname(dir);
  }
  return process.cwd();
}

/**
 * Where the stack keeps its files (`stack.json`, `ca.pem`): `.local/` in the repository, or
 * `BROKER_STATE_DIR` so tests can run a stack of their own beside a developer's.
 */
export function stateDir(env: NodeJS.ProcessEnv = process.env): string {
  const configured = env.BROKER_STATE_DIR;
  return configured ? path.resolve(configured) : path.join(repoRoot(), '.local');
}

export function stackFilePath(dir: string = stateDir()): string {
  return path.join(dir, 'stack.json');
}

/** A path as `stack.json` records it: relative to the repository when inside it (`.local/ca.pem`). */
export function displayPath(file: string): string {
  const relative = path.relative(repoRoot(), file);
  return relative.startsWith('..') || path.isAbsolute(relative) ? file : relative.split(path.sep).join('/');
}

/** Resolves `caCertFile` of a stack file (relative to the repository root). */
export function resolveStackPath(file: string): string {
  return path.isAbsolute(file) ? file : path.join(repoRoot(), file);
}

/** Writes atomically, so a reader never sees half a file. */
export function writeStackFile(stack: StackFile, file: string = stackFilePath()): void {
  mkdirSync(path.dirname(file), { recursive: true });
  const temp = `${file}.${process.pid}.tmp`;
  writeFileSync(temp, `${JSON.stringify(stack, null, 2)}\n`, { mode: 0o600 });
  renameSync(temp, file);
}

/** The stack file, or undefined when no stack is running. @throws Error when it is not a valid stack file. */
export function readStackFile(file: string = stackFilePath()): StackFile | undefined {
  if (!existsSync(file)) return undefined;
  const parsed: unknown = JSON.parse(readFileSync(file, 'utf8'));
  const problems = stackFileProblems(parsed);
  if (problems.length > 0) throw new Error(`${file} is not a valid stack file: ${problems.join('; ')}`);
  return parsed as StackFile;
}

export function removeStackFile(file: string = stackFilePath()): void {
  rmSync(file, { force: true });
}

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Every way `value` differs from the documented shape (docs/development.md) (empty when it matches). */
export function stackFileProblems(value: unknown): string[] {
  const problems: string[] = [];
  const isObject = (v: unknown): v is Record<string, unknown> =>
    v !== null && typeof v === 'object' && !Array.isArray(v);
  const str = (v: unknown, where: string, test?: (s: string) => boolean, what = 'a string'): void => {
    if (typeof v !== 'string' || v === '' || (test && !test(v))) problems.push(`${where} must be ${what}`);
  };
  const url = (protocol: string) => (s: string) => {
    try {
      const parsed = new URL(s);
      return parsed.protocol === protocol && parsed.hostname === '127.0.0.1';
    } catch {
      return false;
    }
  };
  const exactKeys = (v: Record<string, unknown>, keys: string[], where: string): void => {
    const extra = Object.keys(v).filter((k) => !keys.includes(k));
    const missing = keys.filter((k) => !(k in v));
    if (extra.length) problems.push(`${where} has unexpected ${extra.join(', ')}`);
    if (missing.length) problems.push(`${where} lacks ${missing.join(', ')}`);
  };
  if (!isObject(value)) return ['stack file must be a JSON object'];
  exactKeys(
    value,
    ['broker', 'entra', 'keyVault', 'caCertFile', 'scopes', 'callers', 'thirdPartyApi', 'control'],
    'stack',
  );
  const { broker, entra, keyVault, scopes, callers, thirdPartyApi, control } = value;
  if (isObject(broker)) {
    exactKeys(broker, ['url', 'host'], 'broker');
    str(broker.url, 'broker.url', url('http:'), 'an http://127.0.0.1 URL');
    str(broker.host, 'broker.host', (s) => s === 'func' || s === 'dev-host', '"func" or "dev-host"');
  } else problems.push('broker must be an object');
  if (isObject(entra)) {
    exactKeys(entra, ['authorityHost', 'tenantId', 'tokenEndpoint', 'jwksUri'], 'entra');
    str(entra.authorityHost, 'entra.authorityHost', url('https:'), 'an https://127.0.0.1 URL');
    str(entra.tenantId, 'entra.tenantId', (s) => GUID.test(s), 'a GUID');
    str(entra.tokenEndpoint, 'entra.tokenEndpoint', url('https:'), 'an https://127.0.0.1 URL');
    str(entra.jwksUri, 'entra.jwksUri', url('https:'), 'an https://127.0.0.1 URL');
  } else problems.push('entra must be an object');
  if (isObject(keyVault)) {
    str(keyVault.url, 'keyVault.url', url('https:'), 'an https://127.0.0.1 URL');
    str(keyVault.credentialName, 'keyVault.credentialName');
  } else problems.push('keyVault must be an object');
  str(value.caCertFile, 'caCertFile');
  if (
    !Array.isArray(scopes) ||
    scopes.length === 0 ||
    !scopes.every((s) => typeof s === 'string' && s.endsWith('/.default'))
  ) {
    problems.push('scopes must be a non-empty array of …/.default scopes');
  }
  if (Array.isArray(callers) && callers.length > 0) {
    callers.forEach((caller, i) => {
      if (!isObject(caller)) return void problems.push(`callers[${i}] must be an object`);
      exactKeys(caller, ['name', 'clientId', 'clientSecret', 'audience', 'allowedScopes'], `callers[${i}]`);
      str(caller.name, `callers[${i}].name`);
      str(caller.clientId, `callers[${i}].clientId`, (s) => GUID.test(s), 'a GUID');
      str(caller.clientSecret, `callers[${i}].clientSecret`);
      str(caller.audience, `callers[${i}].audience`);
      if (!Array.isArray(caller.allowedScopes) || !caller.allowedScopes.every((s) => typeof s === 'string')) {
        problems.push(`callers[${i}].allowedScopes must be an array of strings`);
      }
    });
    const defaultScope = Array.isArray(scopes) ? scopes[0] : undefined;
    const list = callers.filter(isObject);
    if (!list.some((c) => Array.isArray(c.allowedScopes) && c.allowedScopes.includes(defaultScope))) {
      problems.push('callers must hold one caller allowed the default scope');
    }
    if (!list.some((c) => Array.isArray(c.allowedScopes) && c.allowedScopes.length === 0)) {
      problems.push('callers must hold one caller allowed nothing');
    }
  } else problems.push('callers must be a non-empty array');
  if (isObject(thirdPartyApi)) str(thirdPartyApi.url, 'thirdPartyApi.url', url('http:'), 'an http://127.0.0.1 URL');
  else problems.push('thirdPartyApi must be an object');
  if (isObject(control)) str(control.url, 'control.url', url('https:'), 'an https://127.0.0.1 URL');
  else problems.push('control must be an object');
  return problems;
}
