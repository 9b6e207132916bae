// `npm run build`: esbuild bundles.
//   src/index.ts → dist/app/index.js — the deployable function app: everything bundled except the
//     host-injected `@azure/functions-core`, so the zip needs only dist/app, host.json, package.json.
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

/** The deployable app bundle. */
export function buildApp(entry, outfile) {
  return build({
    ...common,
    entryPoints: [entry],
    outfile,
    external: ['@azure/functions-core'],
  });
}

const devTools = [
  ['dev/start.ts', 'dist/dev/start.js'],
  ['dev/emulator/main.ts', 'dist/dev/emulator.js'],
  ['dev/stackEmulator.ts', 'dist/dev/stackEmulator.js'],
  ['dev/host/main.ts', 'dist/dev/host.js'],
  ['dev/demo.ts', 'dist/dev/demo.js'],
  ['bench/bench.ts', 'dist/bench/bench.js'],
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
