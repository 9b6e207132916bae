/**
 * The deployable function app as a folder: what `npm run package` zips and uploads, what `npm start`
 * serves with `func start`, and what the as-deployed test unpacks. One layout, written in one place:
 *
 *   host.json       the repository's, unchanged
 *   package.json    `main` only (and the name/version for the portal), no dependencies
 *   index.js        the esbuild bundle (dist/app/index.js)
 *   *.js            the modules the bundle loads on first use, beside it (dist/app/azureSdk.js, …)
 *
 * No source maps, no sources, no node_modules: the bundle needs only `@azure/functions-core`,
 * which the Node.js worker provides.
 */
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';

export interface AppPackageOptions {
  /** The bundled entry point; every other `.js` file in its folder goes with it. */
  readonly appFile: string;
  /** The repository root (host.json and package.json are read from it). */
  readonly root: string;
}

/**
 * Writes the package into `outDir` (which must be empty or absent) and returns the files it wrote,
 * relative to `outDir`, sorted.
 * @throws Error when the bundle or host.json is missing, or `outDir` holds files already.
 */
export function writeAppPackage(outDir: string, options: AppPackageOptions): string[] {
  const appDir = path.dirname(options.appFile);
  const main = path.basename(options.appFile);
  if (!existsSync(options.appFile)) throw new Error(`${options.appFile} is missing; run \`npm run build\` first`);
  const hostJson = path.join(options.root, 'host.json');
  if (!existsSync(hostJson)) throw new Error(`${hostJson} is missing`);
  mkdirSync(outDir, { recursive: true });
  if (readdirSync(outDir).length > 0) throw new Error(`${outDir} is not empty`);

  const bundles = readdirSync(appDir).filter((name) => name.endsWith('.js'));
  for (const name of bundles) copyFileSync(path.join(appDir, name), path.join(outDir, name));
  copyFileSync(hostJson, path.join(outDir, 'host.json'));
  const project = JSON.parse(readFileSync(path.join(options.root, 'package.json'), 'utf8')) as {
    name?: string;
    version?: string;
    description?: string;
    license?: string;
  };
  const manifest = {
    name: project.name,
    version: project.version,
    description: project.description,
    license: project.license,
    private: true,
    main,
  };
  writeFileSync(path.join(outDir, 'package.json'), `${JSON.stringify(manifest, null, 2)}\n`);
  return [...bundles, 'host.json', 'package.json'].sort();
}
