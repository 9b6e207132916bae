/**
 * `npm run package [-- --out DIR]`: the deployment package, built once and uploaded as is by every
 * deploy path (azd, `az functionapp deployment source config-zip`, `func azure functionapp publish`;
 * see docs/packaging.md). Writes `DIR/package/` (default `dist/package/`, the layout of
 * appPackage.ts) and `DIR/entra-token-broker.zip` holding exactly those files, then prints the
 * archive's size and its files. Run after `npm run build` (the npm script does both).
 */
import { readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { writeAppPackage } from './appPackage';
import { repoRoot } from './stackFile';
import { writeZip } from './zip';

export const PACKAGE_ZIP_NAME = 'entra-token-broker.zip';

function parseOutDir(argv: readonly string[], root: string): string {
  const at = argv.indexOf('--out');
  if (at < 0) return path.join(root, 'dist');
  const value = argv[at + 1];
  if (!value) throw new Error('usage: node dist/dev/package.js [--out DIR]');
  return path.resolve(value);
}

function main(): void {
  const root = repoRoot();
  const outDir = parseOutDir(process.argv.slice(2), root);
  const folder = path.join(outDir, 'package');
  const zipFile = path.join(outDir, PACKAGE_ZIP_NAME);
  rmSync(folder, { recursive: true, force: true });
  rmSync(zipFile, { force: true });
  const files = writeAppPackage(folder, { appFile: path.join(root, 'dist', 'app', 'index.js'), root });
  const archive = writeZip(files.map((name) => ({ name, data: readFileSync(path.join(folder, name)) })));
  writeFileSync(zipFile, archive);
  const kb = (bytes: number): string => `${(bytes / 1024).toFixed(1)} KB`;
  process.stdout.write(`package: ${path.relative(process.cwd(), zipFile) || zipFile}  ${kb(archive.length)} (zip)\n`);
  process.stdout.write(`package: ${path.relative(process.cwd(), folder) || folder}/  the same files, unpacked:\n`);
  for (const name of files) {
    process.stdout.write(`  ${name.padEnd(14)} ${kb(statSync(path.join(folder, name)).size).padStart(10)}\n`);
  }
}

try {
  main();
} catch (error) {
  process.stderr.write(`package: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
}
