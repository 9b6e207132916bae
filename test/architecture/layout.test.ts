/**
 * The shape of src/ that the docs promise: concept folders with a one-way dependency direction, no
 * import circles anywhere in src/ or dev/, small files, and nothing below functions/ touching the
 * Functions SDK or the process environment. Read from the sources' own import lines.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';

const repoRoot = path.resolve(__dirname, '../..');
const srcRoot = path.join(repoRoot, 'src');

/** Each src/ folder and the folders it may import from (its own files are always allowed). */
const ALLOWED_IMPORTS: Readonly<Record<string, readonly string[]>> = {
  functions: ['http', 'operations', 'platform', 'contract'],
  http: ['callers', 'tokens', 'platform', 'contract'],
  operations: ['tokens', 'credentials', 'platform', 'contract'],
  callers: ['platform', 'contract'],
  tokens: ['credentials', 'platform', 'contract'],
  credentials: ['platform', 'contract'],
  platform: ['contract'],
  contract: [],
};
const MAX_FOLDERS = 8;
const MAX_FILES_PER_FOLDER = 10;
/** A file longer than this holds more than one job: split it by what a reader looks for. */
const MAX_LINES_PER_FILE = 350;

function listTs(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const full = path.join(dir, name);
    if (statSync(full).isDirectory()) return listTs(full);
    return /\.(ts|mjs)$/.test(name) ? [full] : [];
  });
}

/** Relative imports of `file` (static imports, re-exports and require calls), resolved to files. */
function relativeImports(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const specifiers = [...text.matchAll(/(?:from|import|require\()\s*['"](\.{1,2}\/[^'"]+)['"]/g)].map((m) => m[1]!);
  return specifiers.flatMap((specifier) => {
    const base = path.resolve(path.dirname(file), specifier);
    const found = [base, `${base}.ts`, `${base}.mjs`, path.join(base, 'index.ts')].find(
      (candidate) => statSync(candidate, { throwIfNoEntry: false })?.isFile() ?? false,
    );
    return found ? [found] : [];
  });
}

function findCircle(files: readonly string[]): string[] | undefined {
  const graph = new Map(files.map((file) => [file, relativeImports(file)]));
  const state = new Map<string, 'visiting' | 'done'>();
  const stack: string[] = [];
  const visit = (file: string): string[] | undefined => {
    if (state.get(file) === 'done') return undefined;
    if (state.get(file) === 'visiting') return [...stack.slice(stack.indexOf(file)), file];
    state.set(file, 'visiting');
    stack.push(file);
    for (const next of graph.get(file) ?? []) {
      const circle = visit(next);
      if (circle) return circle;
    }
    stack.pop();
    state.set(file, 'done');
    return undefined;
  };
  for (const file of files) {
    const circle = visit(file);
    if (circle) return circle.map((f) => path.relative(repoRoot, f));
  }
  return undefined;
}

const folderOf = (file: string): string | undefined => {
  const parts = path.relative(srcRoot, file).split(path.sep);
  return parts.length > 1 ? parts[0] : undefined;
};

describe('src/ layout', () => {
  const folders = readdirSync(srcRoot).filter((name) => statSync(path.join(srcRoot, name)).isDirectory());
  const sources = listTs(srcRoot);

  it('has only the documented concept folders, each small', () => {
    expect(folders.sort()).toEqual(Object.keys(ALLOWED_IMPORTS).sort());
    expect(folders.length).toBeLessThanOrEqual(MAX_FOLDERS);
    for (const folder of folders) {
      const files = readdirSync(path.join(srcRoot, folder)).filter((name) => name.endsWith('.ts'));
      expect({ folder, files: files.length }).toEqual({
        folder,
        files: Math.min(files.length, MAX_FILES_PER_FOLDER),
      });
    }
  });

  it(`keeps every file in src/ at ${MAX_LINES_PER_FILE} lines or fewer`, () => {
    const lineCount = (text: string): number => text.split('\n').length - (text.endsWith('\n') ? 1 : 0);
    const tooLong = sources
      .map((file) => ({ file: path.relative(repoRoot, file), lines: lineCount(readFileSync(file, 'utf8')) }))
      .filter(({ lines }) => lines > MAX_LINES_PER_FILE);
    expect(tooLong).toEqual([]);
  });

  it('imports only in the documented direction (functions → http/operations → callers/tokens → credentials → platform → contract)', () => {
    const violations: string[] = [];
    for (const file of sources) {
      const from = folderOf(file);
      if (from === undefined) continue; // index.ts, app.ts and broker.ts compose everything
      for (const target of relativeImports(file)) {
        const to = folderOf(target);
        if (to === undefined || to === from) {
          if (to === undefined) violations.push(`${path.relative(repoRoot, file)} imports the composition root`);
          continue;
        }
        if (!ALLOWED_IMPORTS[from]?.includes(to)) {
          violations.push(`${path.relative(repoRoot, file)} → ${path.relative(repoRoot, target)}`);
        }
      }
    }
    expect(violations).toEqual([]);
  });

  it('has no import circle in src/ or dev/', () => {
    expect(findCircle(sources)).toBeUndefined();
    expect(findCircle(listTs(path.join(repoRoot, 'dev')))).toBeUndefined();
  });

  it('keeps @azure/functions and process.env out of everything below functions/ and the entry point', () => {
    const offenders = sources
      .filter((file) => !['functions', undefined].includes(folderOf(file)))
      .filter((file) => /from '@azure\/functions'|process\.env/.test(readFileSync(file, 'utf8')))
      .map((file) => path.relative(repoRoot, file));
    expect(offenders).toEqual([]);
  });
});
