import { readFileSync, statSync } from 'node:fs';
import { dirname, extname, join, relative, resolve, sep } from 'node:path';
import { maskSource } from './source-mask.js';

/**
 * What a code deployment packs (decision 020): the entry file and the files it imports locally,
 * found statically: `import … from './x.js'`, `import './x.js'`, `export … from './x.js'`,
 * `import('./x.js')` and `require('./x.js')` with a literal relative specifier. Bare specifiers
 * (packages) are left to `image().install()`; a computed specifier cannot be followed and is not.
 * The patterns run over the code only (source-mask.ts): an "import" in a comment, a string or a
 * template's text is not one Node runs, and following it would fail on a file that need not exist.
 * There each string literal is its index between quotes ('3'), read back from the mask's strings.
 */
// Not after a name character or a member dot (`x.require(…)`), but after a spread (`...require(…)`).
const NOT_MEMBER = String.raw`(?<![\w$]|(?<!\.)\.)`;
const SPEC = [
  String.raw`import\s+(?:[\w$*{}\s,]+?\s+from\s+)?(['"])(\d+)\1`,
  String.raw`export\s+[\w$*{}\s,]+?\s+from\s+(['"])(\d+)\1`,
  String.raw`import\s*\(\s*(['"])(\d+)\1\s*[,)]`,
  String.raw`require\s*\(\s*(['"])(\d+)\1\s*\)`,
].map((p) => new RegExp(NOT_MEMBER + p, 'g'));

/** The file kinds packed: what Node runs without a build step. */
export const SOURCE_EXTENSIONS = ['.js', '.mjs', '.cjs'];

/** The relative specifiers a source imports, each once, in order of appearance. */
export function localImports(source: string): string[] {
  const { code, strings } = maskSource(source);
  const found: { at: number; spec: string }[] = [];
  for (const re of SPEC)
    for (const m of code.matchAll(re)) {
      const spec = strings[Number(m[2])];
      if (spec !== undefined && (spec.startsWith('./') || spec.startsWith('../'))) found.push({ at: m.index, spec });
    }
  return [...new Set(found.sort((a, b) => a.at - b.at).map((f) => f.spec))];
}

/** The relative specifiers the same patterns find on the raw text (comments and strings not taken out). */
export function looseImports(source: string): string[] {
  const found = new Set<string>();
  for (const re of LOOSE) for (const m of source.matchAll(re)) if (m[2] !== undefined) found.add(m[2]);
  return [...found];
}

const LOOSE = SPEC.map((re) => new RegExp(re.source.replaceAll(String.raw`(\d+)`, String.raw`(\.\.?\/[^'"\n]*)`), 'g'));

const isFile = (path: string): boolean => {
  try {
    return statSync(path).isFile();
  } catch {
    return false;
  }
};

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
    const text = data.toString('utf8');
    const found = localImports(text);
    for (const spec of found) visit(join(dirname(file), spec), key);
    // The safety net under the lexer (a small one, not a parser): what the patterns find on the raw text,
    // strings and comments included, is packed too when it is a file that could be packed. A guess the
    // lexer gets wrong then costs an extra file at worst, never a missing one.
    for (const spec of looseImports(text)) {
      const target = join(dirname(file), spec);
      const inside = !relative(root, target).startsWith('..') && SOURCE_EXTENSIONS.includes(extname(target));
      if (!found.includes(spec) && inside && isFile(target)) visit(target, key);
    }
  };
  visit(resolve(entryFile), null);
  return [...seen.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([path, data]) => ({ path, data }));
}
