// `npm run build`: esbuild bundles.
//   src/index.ts → dist/app/index.js — the deployable function app: everything bundled except the
//     host-injected `@azure/functions-core`, so the zip needs only dist/app, host.json, package.json;
//     the Azure SDKs and jose, loaded on first use, are files of their own beside it (see buildApp).
//   dev tools (start, emulator, host, demo, bench) → dist/dev/*.js, dist/bench/*.js — their npm
//     packages stay external (node_modules is there when they run; Node 20.19+ require()s ESM-only jose
//     without a flag or warning).
// `node dev/build.mjs --app ENTRY --outfile FILE` bundles one function app with the deployable
// settings (tests use it for fixtures).
import { build as esbuild } from 'esbuild';
import { existsSync, mkdirSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/**
 * esbuild, but every output file is replaced atomically (write to a temp file, then rename), so a
 * process starting `dist/dev/*.js` while another build runs (parallel test workers) never reads
 * half a file.
 */
async function build(options) {
  const result = await esbuild({ ...options, write: false });
  for (const file of result.outputFiles) {
    mkdirSync(path.dirname(file.path), { recursive: true });
    const temp = `${file.path}.${process.pid}.tmp`;
    writeFileSync(temp, file.contents);
    renameSync(temp, file.path);
  }
  return result;
}

const common = {
  absWorkingDir: root,
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  sourcemap: true,
  logLevel: 'warning',
  legalComments: 'none',
};

/**
 * jsonwebtoken (msal-node signs client assertions with it) asks semver, as it loads, whether the
 * running Node.js has three features: >=15.7.0, ^6.12.0 || >=8.0.0 and >=16.9.0. The app requires
 * Node.js >=20 (package.json `engines`), where all three hold, so the build answers `true` and
 * leaves semver out: loading semver compiles dozens of regular expressions, about 8 ms of the first
 * caller's wait on a cold instance. test/build/bundle.test.ts checks the answers against semver.
 */
const JSONWEBTOKEN_NODE_CHECKS =
  /[\\/]jsonwebtoken[\\/]lib[\\/](asymmetricKeyDetailsSupported|psSupported|rsaPssKeyDetailsSupported)\.js$/;
const answerNodeChecks = {
  name: 'answer-jsonwebtoken-node-checks',
  setup(pluginBuild) {
    pluginBuild.onLoad({ filter: JSONWEBTOKEN_NODE_CHECKS }, () => ({
      contents: 'module.exports = true; // Node.js >=20: see JSONWEBTOKEN_NODE_CHECKS in dev/build.mjs',
      loader: 'js',
    }));
  },
};

/**
 * The lazily loaded bundles are third-party code (the Azure SDKs, jose) that the first caller on a
 * cold instance waits for while it loads: minified, the SDK bundle is 60 % smaller and loads about
 * 10 ms faster (compiling a megabyte of source was a third of its load). Their source maps stay
 * beside them. The main bundle (the broker's own code) is not minified: it is read in stack traces.
 */
const LAZY_BUNDLE_OPTIONS = { minify: true, plugins: [answerNodeChecks] };

/**
 * Modules the app loads on first use with `require('./NAME')` from a `lazy*.ts` module beside it: each is left
 * out of the main bundle and bundled on its own beside it as NAME.js (see buildApp).
 */
const LAZY_MODULES = ['azureSdk', 'certificateSdk', 'joseLib'];
const LAZY_REQUIRE = new RegExp(`^\\./(${LAZY_MODULES.join('|')})$`);

/**
 * The deployable app: `outfile`, everything bundled except the host-injected
 * `@azure/functions-core` — and except the modules the app requires lazily (src/platform/azureSdk.ts,
 * src/platform/certificateSdk.ts, src/callers/joseLib.ts): each is bundled on its own beside the
 * main bundle (`azureSdk.js`, `certificateSdk.js`, `joseLib.js`). They are most of the code (the SDKs) or only needed after registration (jose),
 * so the host indexes the app without compiling them. Every file is self-contained: dist/app is
 * still the whole app.
 */
export async function buildApp(entry, outfile) {
  /** Lazily required module name → the folder it lives in. */
  const lazy = new Map();
  const splitLazyModules = {
    name: 'split-lazy-modules',
    setup(pluginBuild) {
      pluginBuild.onResolve({ filter: LAZY_REQUIRE }, (args) => {
        const name = args.path.slice(2);
        if (args.kind !== 'require-call' || !args.resolveDir.startsWith(path.join(root, 'src'))) return undefined;
        lazy.set(name, args.resolveDir);
        return { path: `./${name}.js`, external: true };
      });
    },
  };
  const result = await build({
    ...common,
    entryPoints: [entry],
    outfile,
    external: ['@azure/functions-core'],
    plugins: [splitLazyModules],
  });
  await Promise.all(
    [...lazy].map(([name, folder]) =>
      build({
        ...common,
        entryPoints: [path.join(folder, `${name}.ts`)],
        outfile: path.join(path.dirname(outfile), `${name}.js`),
        external: ['@azure/functions-core'],
        ...LAZY_BUNDLE_OPTIONS,
      }),
    ),
  );
  return result;
}

const devTools = [
  ['dev/start.ts', 'dist/dev/start.js'],
  ['dev/emulator/main.ts', 'dist/dev/emulator.js'],
  ['dev/host/main.ts', 'dist/dev/host.js'],
  ['dev/demo.ts', 'dist/dev/demo.js'],
  ['dev/package.ts', 'dist/dev/package.js'],
  ['bench/bench.ts', 'dist/bench/bench.js'],
  ['bench/handler.ts', 'dist/bench/handler.js'],
  ['bench/funcLatency.ts', 'dist/bench/funcLatency.js'],
  ['bench/client.ts', 'dist/bench/client.js'],
];

function buildDevTool(entry, outfile) {
  return build({ ...common, entryPoints: [entry], outfile, packages: 'external' });
}

async function main(argv) {
  const started = Date.now();
  const appIndex = argv.indexOf('--app');
  if (appIndex >= 0) {
    const outIndex = argv.indexOf('--outfile');
    if (outIndex < 0 || !argv[appIndex + 1] || !argv[outIndex + 1]) {
      throw new Error('usage: node dev/build.mjs --app ENTRY --outfile FILE');
    }
    await buildApp(argv[appIndex + 1], argv[outIndex + 1]);
    return;
  }
  const jobs = [];
  const skipped = [];
  if (existsSync(path.join(root, 'src/index.ts'))) jobs.push(buildApp('src/index.ts', 'dist/app/index.js'));
  else skipped.push('src/index.ts');
  for (const [entry, outfile] of devTools) {
    if (existsSync(path.join(root, entry))) jobs.push(buildDevTool(entry, outfile));
    else skipped.push(entry);
  }
  const results = await Promise.allSettled(jobs);
  for (const entry of skipped) console.warn(`build: skipped ${entry} (not there yet)`);
  const failed = results.filter((result) => result.status === 'rejected');
  if (failed.length > 0) throw new Error(`build: ${failed.length} of ${jobs.length} bundles failed (see above)`);
  console.log(`build: ${jobs.length} bundles in ${Date.now() - started} ms`);
}

main(process.argv.slice(2)).catch((error) => {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});
