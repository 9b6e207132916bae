import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { builtinModules, createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { describeFunctions, type FunctionSummary } from '../../dev/host/describeFunctions';
import { capturedFunctions } from '../../dev/host/functionRegistry';

const root = path.resolve(__dirname, '..', '..');
const bundle = path.join(root, 'dist', 'app', 'index.js');
const sdkBundle = path.join(root, 'dist', 'app', 'azureSdk.js');
const certificateBundle = path.join(root, 'dist', 'app', 'certificateSdk.js');
const joseBundle = path.join(root, 'dist', 'app', 'joseLib.js');
const hostScript = path.join(root, 'dist', 'dev', 'host.js');

// Valid settings (the settings table in README.md) so the entry point registers; nothing is contacted while loading.
const settings: Record<string, string> = {
  ENTRA_TENANT_ID: '11111111-1111-1111-1111-111111111111',
  ENTRA_CLIENT_ID: '22222222-2222-2222-2222-222222222222',
  ENTRA_AUTHORITY_HOST: 'https://127.0.0.1:9',
  KEY_VAULT_URL: 'https://127.0.0.1:9',
  TOKEN_SCOPES: 'api://33333333-3333-3333-3333-333333333333/.default',
  CALLER_AUDIENCES: 'api://entra-token-broker',
  CALLER_POLICY: JSON.stringify({
    '44444444-4444-4444-4444-444444444444': ['api://33333333-3333-3333-3333-333333333333/.default'],
  }),
  WARMUP_SCHEDULE: '15 */7 * * * *',
};

function newestMtime(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { recursive: true }) as string[]) {
    const stat = statSync(path.join(dir, entry));
    if (stat.isFile()) newest = Math.max(newest, stat.mtimeMs);
  }
  return newest;
}

function runBuild(args: string[] = []): void {
  const result = spawnSync(process.execPath, [path.join(root, 'dev', 'build.mjs'), ...args], {
    cwd: root,
    encoding: 'utf8',
  });
  if (result.status !== 0) throw new Error(`build failed:\n${result.stdout}\n${result.stderr}`);
}

/** What a bundle registers when loaded the way the local host loads it (Module._load capture hook). */
function registrationsOfBundle(file: string, env: Record<string, string>): FunctionSummary[] {
  const result = spawnSync(process.execPath, [hostScript, file, '--list'], { env, encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`loading ${file} failed:\n${result.stderr}`);
  return JSON.parse(result.stdout.trim().split('\n').pop()!) as FunctionSummary[];
}

/** What the same sources register through ts-jest (jest maps @azure/functions-core to the same registry). */
async function registrationsOfSources(load: () => Promise<unknown>): Promise<FunctionSummary[]> {
  const before = capturedFunctions.length;
  await load();
  return describeFunctions(capturedFunctions.slice(before));
}

/** The npm packages a bundle holds, read from its source map (`@scope/name` or `name`). */
function packagesIn(file: string): string[] {
  const map = JSON.parse(readFileSync(`${file}.map`, 'utf8')) as { sources: string[] };
  const names = new Set<string>();
  for (const source of map.sources) {
    // The innermost node_modules: a nested copy is still that package.
    const match = /node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(source.slice(source.lastIndexOf('node_modules/')));
    // A package shipped with its own source map (webpack-built, like @azure/functions) names itself.
    const ownMap = /^webpack:\/\/((?:@[^/]+\/)?[^/]+)\//.exec(source);
    if (match) names.add(match[1]!);
    else if (ownMap) names.add(ownMap[1]!);
  }
  return [...names].sort();
}

/** Runs `script` in a fresh Node.js with `file` as its argument: what it prints as JSON, after checking it wrote no error. */
function runWithBundle(script: string, file: string): unknown {
  const result = spawnSync(process.execPath, ['-e', script, file], { env: {}, encoding: 'utf8' });
  expect(result.stderr).toBe('');
  return JSON.parse(result.stdout.trim());
}

function externalRequires(file: string): string[] {
  const code = readFileSync(file, 'utf8');
  const names = new Set<string>();
  for (const match of code.matchAll(/\brequire\("([^"]+)"\)/g)) names.add(match[1]!);
  const builtins = new Set([...builtinModules, ...builtinModules.map((m) => `node:${m}`)]);
  return [...names].filter((name) => !builtins.has(name)).sort();
}

describe('deployable build (npm run build)', () => {
  const saved = { ...process.env };

  beforeAll(() => {
    const stale =
      !existsSync(bundle) ||
      !existsSync(hostScript) ||
      statSync(bundle).mtimeMs <
        Math.max(newestMtime(path.join(root, 'src')), newestMtime(path.join(root, 'dev', 'host')));
    if (stale) runBuild();
  }, 120_000);
  // Importing src/index starts the caller key warm-up on the next turn (the test authority's port is
  // closed, so it fails and warns); wait for that, so nothing logs after the file is done.
  const warnings: string[] = [];
  const warnSpy = jest.spyOn(console, 'warn').mockImplementation((line: string) => warnings.push(line));
  afterAll(async () => {
    for (let waited = 0; waited < 5000 && !warnings.some((line) => line.includes('CallerKeysFetchFailed'));) {
      await new Promise((resolve) => setTimeout(resolve, 20));
      waited += 20;
    }
    warnSpy.mockRestore();
    process.env = saved;
  });

  it('points package.json main at the bundle', () => {
    const pkg = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')) as { main: string };
    expect(path.resolve(root, pkg.main)).toBe(bundle);
  });

  it('bundles everything but the host-injected @azure/functions-core and the lazily loaded bundles beside it', () => {
    expect(externalRequires(bundle)).toEqual([
      './azureSdk.js',
      './certificateSdk.js',
      './joseLib.js',
      '@azure/functions-core',
    ]);
    for (const lazyBundle of [sdkBundle, certificateBundle, joseBundle]) {
      expect(existsSync(lazyBundle)).toBe(true);
      expect(externalRequires(lazyBundle)).toEqual([]);
    }
    // The split is the point: the SDKs (msal-node, Key Vault, node-forge) and jose are not in the main bundle.
    // (Read from the source maps: the lazily loaded bundles are minified, without path comments.)
    const main = packagesIn(bundle);
    expect(main).toContain('@azure/functions');
    expect(main).not.toContain('@azure/msal-node');
    expect(main).not.toContain('node-forge');
    expect(main).not.toContain('jose');
    // …and what only certificates need is not in the SDK bundle every other credential kind loads.
    const sdk = packagesIn(sdkBundle);
    expect(sdk).toEqual(expect.arrayContaining(['@azure/msal-node', '@azure/identity', '@azure/keyvault-secrets']));
    expect(sdk).not.toContain('node-forge');
    expect(sdk).not.toContain('@azure/keyvault-certificates');
    expect(packagesIn(certificateBundle)).toEqual(
      expect.arrayContaining(['node-forge', '@azure/keyvault-certificates']),
    );
  });

  it('minifies the lazily loaded bundles and leaves semver out of them: jsonwebtoken’s Node.js checks are answered', () => {
    for (const lazyBundle of [sdkBundle, certificateBundle, joseBundle]) {
      // Minified: far fewer lines than the thousands of modules' worth of source they hold.
      expect(readFileSync(lazyBundle, 'utf8').split('\n').length).toBeLessThan(100);
      expect(packagesIn(lazyBundle)).not.toContain('semver');
    }
    // The build answers `true` for each of these (dev/build.mjs): it must be what semver says for
    // every Node.js the app supports (package.json engines), and the checks must still be these.
    const requireFromMsal = createRequire(require.resolve('@azure/msal-node'));
    const jsonwebtokenLib = path.dirname(requireFromMsal.resolve('jsonwebtoken/lib/psSupported'));
    const semver = createRequire(path.join(jsonwebtokenLib, 'x.js'))('semver') as {
      satisfies(version: string, range: string): boolean;
      minVersion(range: string): { version: string } | null;
    };
    const engines = (JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')) as { engines: { node: string } })
      .engines.node;
    // The modules dev/build.mjs answers (JSONWEBTOKEN_NODE_CHECKS).
    const checks = ['asymmetricKeyDetailsSupported.js', 'psSupported.js', 'rsaPssKeyDetailsSupported.js'];
    for (const file of checks) {
      const source = readFileSync(path.join(jsonwebtokenLib, file), 'utf8');
      const range = /semver\.satisfies\(process\.version, '([^']+)'\)/.exec(source)?.[1];
      expect({ file, range }).toEqual({ file, range: expect.any(String) });
      for (const version of [semver.minVersion(engines)!.version, process.version]) {
        expect({ file, version, supported: semver.satisfies(version, range!) }).toEqual({
          file,
          version,
          supported: true,
        });
      }
    }
    // Nothing else in the SDKs asks semver anything (it would be bundled again, silently).
    const sources = readdirSync(path.join(jsonwebtokenLib, '..'), { recursive: true }) as string[];
    const asking = sources.filter(
      (file) =>
        file.endsWith('.js') &&
        !file.includes('node_modules') &&
        readFileSync(path.join(jsonwebtokenLib, '..', file), 'utf8').includes("require('semver')"),
    );
    expect(asking.map((file) => path.basename(file)).sort()).toEqual(checks.sort());
  });

  it('the jose bundle loads on its own and gives caller authentication what it uses', () => {
    const script =
      'const jose = require(process.argv[1]);' +
      'console.log(JSON.stringify([jose.jwtVerify, jose.createRemoteJWKSet, jose.createLocalJWKSet, jose.errors.JOSEError].map((f) => typeof f).concat(typeof jose.customFetch)));';
    expect(runWithBundle(script, joseBundle)).toEqual(['function', 'function', 'function', 'function', 'symbol']);
  });

  it('the SDK bundle loads on its own and gives the token path the classes it constructs', () => {
    const script =
      'const sdk = require(process.argv[1]);' +
      "const app = new sdk.ConfidentialClientApplication({ auth: { clientId: '22222222-2222-2222-2222-222222222222', authority: 'https://127.0.0.1:9/11111111-1111-1111-1111-111111111111', knownAuthorities: ['127.0.0.1:9'], clientSecret: 'not-a-secret' } });" +
      'const mi = new sdk.ManagedIdentityCredential();' +
      "new sdk.SecretClient('https://127.0.0.1:9', mi, { disableChallengeResourceVerification: true });" +
      'console.log(JSON.stringify({ acquire: typeof app.acquireTokenByClientCredential, getToken: typeof mi.getToken }));';
    expect(runWithBundle(script, sdkBundle)).toEqual({ acquire: 'function', getToken: 'function' });
  });

  it('the certificate bundle loads on its own and gives the certificate credential what it uses', () => {
    const script =
      'const sdk = require(process.argv[1]);' +
      "const client = new sdk.CertificateClient('https://127.0.0.1:9', { getToken: async () => null }, { disableChallengeResourceVerification: true });" +
      'console.log(JSON.stringify({ getCertificate: typeof client.getCertificate, forge: typeof sdk.forge.pkcs12.pkcs12FromAsn1 }));';
    expect(runWithBundle(script, certificateBundle)).toEqual({ getCertificate: 'function', forge: 'function' });
  });

  it('registers the same functions (names, routes, methods, auth level, timer schedule) as the sources', async () => {
    const fromBundle = registrationsOfBundle(bundle, settings);
    Object.assign(process.env, settings);
    const fromSources = await registrationsOfSources(() => import('../../src/index'));
    expect(fromBundle.length).toBeGreaterThan(0);
    expect(fromBundle).toEqual(fromSources);
    expect(fromBundle).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ name: 'token', trigger: 'http', route: 'token' }),
        expect.objectContaining({ name: 'health', trigger: 'http', route: 'health' }),
        expect.objectContaining({ trigger: 'timer', schedule: settings.WARMUP_SCHEDULE }),
      ]),
    );
  });

  it('with a broken configuration, registers only token and health (they answer 503) and names the setting', () => {
    const { ENTRA_TENANT_ID: _omitted, ...broken } = settings;
    const result = spawnSync(process.execPath, [hostScript, bundle, '--list'], { env: broken, encoding: 'utf8' });
    expect(result.status).toBe(0);
    const listed = JSON.parse(result.stdout.trim().split('\n').pop()!) as { name: string }[];
    expect(listed.map((f) => f.name)).toEqual(['token', 'health']);
    const line = result.stderr.split('\n').find((l) => l.includes('"event":"ConfigurationInvalid"'));
    expect(line).toContain('"level":"error"');
    expect(line).toContain('ENTRA_TENANT_ID');
  });
});

describe('build of any function app with the deployable settings (fixture)', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'bundle-test-'));
  const fixtureBundle = path.join(dir, 'app.js');

  beforeAll(() => {
    if (!existsSync(hostScript)) runBuild();
    runBuild(['--app', 'test/fixtures/app/index.ts', '--outfile', fixtureBundle]);
  }, 120_000);
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('loads under the capture hook and registers what the sources register through ts-jest', async () => {
    const env = { FIXTURE_TIMER_SCHEDULE: '0 */2 * * * *' };
    const fromBundle = registrationsOfBundle(fixtureBundle, env);
    process.env.FIXTURE_TIMER_SCHEDULE = env.FIXTURE_TIMER_SCHEDULE;
    const fromSources = await registrationsOfSources(() => import('../fixtures/app/index'));
    expect(fromBundle).toEqual(fromSources);
    expect(fromBundle.map((f) => f.name)).toEqual(['echo', 'health', 'created', 'boom', 'tick']);
    expect(fromBundle).toContainEqual({
      name: 'created',
      trigger: 'http',
      route: 'created',
      methods: ['PUT'],
      authLevel: 'function',
    });
    expect(fromBundle).toContainEqual({
      name: 'tick',
      trigger: 'timer',
      schedule: '0 */2 * * * *',
      runOnStartup: true,
    });
    expect(externalRequires(fixtureBundle)).toEqual(['@azure/functions-core']);
  });
});
