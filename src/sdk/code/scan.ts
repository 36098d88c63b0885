import { readFileSync } from 'node:fs';
import { dirname, extname, join, relative, resolve, sep } from 'node:path';

/**
 * What a code deployment packs (decision 020): the entry file and the files it imports locally,
 * found statically: `import … from './x.js'`, `import './x.js'`, `export … from './x.js'`,
 * `import('./x.js')` and `require('./x.js')` with a literal relative specifier. Bare specifiers
 * (packages) are left to `image().install()`; a computed specifier cannot be followed and is not.
 */
const SPEC = [
  /\bimport\s+(?:[\w$*{}\s,]+?\s+from\s+)?(['"])([^'"\n]+)\1/g,
  /\bexport\s+[\w$*{}\s,]+?\s+from\s+(['"])([^'"\n]+)\1/g,
  /\bimport\s*\(\s*(['"])([^'"\n]+)\1\s*\)/g,
  /\brequire\s*\(\s*(['"])([^'"\n]+)\1\s*\)/g,
];

/** The file kinds packed: what Node runs without a build step. */
export const SOURCE_EXTENSIONS = ['.js', '.mjs', '.cjs'];

/** Block comments, and line comments that begin a line: a commented-out import is not followed. */
function withoutComments(source: string): string {
  return source.replace(/\/\*[\s\S]*?\*\//g, ' ').replace(/^\s*\/\/.*$/gm, '');
}

/** The relative specifiers a source imports, each once, in order of appearance. */
export function localImports(source: string): string[] {
  const text = withoutComments(source);
  const found: { at: number; spec: string }[] = [];
  for (const re of SPEC) for (const m of text.matchAll(re)) if (m[2]?.startsWith('./') || m[2]?.startsWith('../')) found.push({ at: m.index ?? 0, spec: m[2] });
  return [...new Set(found.sort((a, b) => a.at - b.at).map((f) => f.spec))];
}

export interface SourceFile {
  /** Relative to the entry's directory, `/`-separated. */
  readonly path: string;
  readonly data: Buffer;
}

/**
 * The entry and every file reachable through local imports, sorted by path (the hash and the
 * tarball do not depend on the order of discovery). Each must lie under the entry's directory
 * (the tarball's root) and be a .js, .mjs or .cjs file.
 */
export function collectSources(entryFile: string): SourceFile[] {
  const root = dirname(resolve(entryFile));
  const seen = new Map<string, Buffer>();
  const visit = (file: string, from: string | null): void => {
    const rel = relative(root, file);
    if (rel.startsWith('..') || rel === '')
      throw new Error(`${from ?? 'the entry'} imports ${file}, outside the entry's directory ${root}: it would not be packed`);
    if (!SOURCE_EXTENSIONS.includes(extname(file)))
      throw new Error(`${from ?? 'the entry'} imports ${rel}: only ${SOURCE_EXTENSIONS.join(', ')} files are packed (build TypeScript first)`);
    const key = rel.split(sep).join('/');
    if (seen.has(key)) return;
    let data: Buffer;
    try {
      data = readFileSync(file);
    } catch (err) {
      throw new Error(`${from ?? 'the entry'} imports ${rel}, which cannot be read: ${(err as Error).message}`);
    }
    seen.set(key, data);
    for (const spec of localImports(data.toString('utf8'))) visit(join(dirname(file), spec), key);
  };
  visit(resolve(entryFile), null);
  return [...seen.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([path, data]) => ({ path, data }));
}
