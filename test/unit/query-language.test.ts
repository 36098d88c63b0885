import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import ts from 'typescript';
import { GantryError } from '../../src/domain/errors.js';
import { MAX_SEARCH_QUERY_CHARS, parseSearchQuery } from '../../src/api/dialects/vast/query-language.js';

/**
 * The search language's reader: a hand-written scan that replaced a regular expression whose white
 * space could match two ways (seconds for a name and 64,000 spaces). The old reader is kept here,
 * verbatim, as the oracle: on any input the two must answer alike, result or error message.
 */
const OLD_TERM = /([A-Za-z_][A-Za-z0-9_]*)\s*(>=|<=|!=|==|=|>|<|\s+notin\s+|\s+nin\s+|\s+in\s+)\s*(\[[^\]]*\]|"[^"]*"|'[^']*'|[^\s]+)/gy;
const OLD_OPS: Readonly<Record<string, string>> = {
  '>=': 'gte',
  '<=': 'lte',
  '!=': 'neq',
  '==': 'eq',
  '=': 'eq',
  '>': 'gt',
  '<': 'lt',
  in: 'in',
  notin: 'notin',
  nin: 'notin',
};
const OLD_GB_FIELDS = new Set(['gpu_ram', 'cpu_ram', 'gpu_total_ram']);

function oldValue(field: string, raw: string): unknown {
  const t = raw.replace(/^["']|["']$/g, '');
  if (t === 'true' || t === 'True') return true;
  if (t === 'false' || t === 'False') return false;
  if (t !== '' && Number.isFinite(Number(t))) return OLD_GB_FIELDS.has(field) ? Number(t) * 1000 : Number(t);
  return t;
}

function oldParse(text: string, fieldOf: (name: string) => string): Record<string, Record<string, unknown>> {
  const out = new Map<string, Record<string, unknown>>();
  const s = text.trim();
  let pos = 0;
  while (pos < s.length) {
    while (s[pos] === ' ' || s[pos] === '\t' || s[pos] === '\n') pos++;
    if (pos >= s.length) break;
    OLD_TERM.lastIndex = pos;
    const m = OLD_TERM.exec(s);
    if (!m) throw new GantryError('INVALID_QUERY', `Cannot read the search query at: '${s.slice(pos)}'. Use terms like num_gpus>=2 gpu_name=RTX_4090.`);
    pos = OLD_TERM.lastIndex;
    const field = fieldOf(m[1] as string);
    const op = OLD_OPS[(m[2] as string).trim()] as string;
    const raw = m[3] as string;
    if (raw === 'any' || raw === 'None') continue;
    const v =
      op === 'in' || op === 'notin'
        ? raw
            .replace(/^\[|\]$/g, '')
            .split(',')
            .map((x) => oldValue(field, x.trim()))
            .filter((x) => x !== '')
        : oldValue(field, raw);
    out.set(field, { ...out.get(field), [op]: v });
  }
  return Object.fromEntries(out);
}

/** What a reader answers for a query: its result or its error, and the names it asked `fieldOf` about, in order. */
function outcome(read: typeof oldParse, q: string): unknown {
  const names: string[] = [];
  try {
    return { result: read(q, (n) => (names.push(n), n)), names };
  } catch (e) {
    return { error: e instanceof GantryError ? `${e.code}: ${e.message}` : String(e), names };
  }
}

/** Pieces the language is made of, and what sits next to them: white space `\s` knows and `trim` does, quotes, brackets, a lone surrogate. */
const PIECES = [
  ...`a gpu_ram num_gpus _x9 9x __proto__ any None true False 1 0.5 -0 1e3 in notin nin inx no >= <= != == = > < ! - + [ ] , " ' é`.split(' '),
  ...[' ', '   ', '\t', '\n', '\r', '\v', '\u00a0', '\u2028', '\ufeff', '\ud83d'],
];
const space = fc.constantFrom('', ' ', '  ', '\t', '\n', '\r', '\u00a0', '\u3000');
const op = fc.constantFrom('>=', '<=', '!=', '==', '=', '>', '<', 'in', 'notin', 'nin', ' in ', ' notin ', ' nin ');
const value = fc.oneof(
  fc.constantFrom('1', '0.5', 'any', 'None', 'true', 'RTX_4090', '[US,CA]', '[ 1 , 2 ]', '[]', '"a b"', "'x'", '"', '[', "'", '=', ''),
  fc.string({ maxLength: 6 }),
);
/** Terms as a person writes them, white space and all: most are accepted, so results are compared, not only errors. */
const terms = fc
  .array(fc.tuple(fc.constantFrom('a', 'gpu_ram', 'geolocation', 'n1', '_'), space, op, space, value, space), { maxLength: 6 })
  .map((ts) => ts.map((t) => t.join('')).join(' '));
const queries = fc.oneof(
  terms,
  fc.array(fc.constantFrom(...PIECES), { maxLength: 24 }).map((p) => p.join('')),
  fc.string({ maxLength: 40 }),
);

describe('search language reader', () => {
  it('reads every query as the regular expression it replaced did: same result, same error, same fields asked', () => {
    fc.assert(
      fc.property(queries, (q) => {
        assert.deepEqual(outcome(parseSearchQuery, q), outcome(oldParse, q), JSON.stringify(q));
      }),
      { numRuns: 5000 },
    );
  });

  it('keeps the corners of the old reader (an operator with nothing after it, word operators, unclosed lists)', () => {
    const cases: [string, unknown][] = [
      ['a>=', { a: { gt: '=' } }],
      ['a==', { a: { eq: '=' } }],
      ['a<= ', { a: { lt: '=' } }],
      ['a in [x, y] b nin [1] c notin 2', { a: { in: ['x', 'y'] }, b: { notin: [1] }, c: { notin: [2] } }],
      ['a=[1 b=2', { a: { eq: '[1' }, b: { eq: 2 } }],
      ['a="x y"b=1', { a: { eq: 'x y' }, b: { eq: 1 } }],
      ['a=1b=2', { a: { eq: '1b=2' } }],
      ['gpu_ram>=24 gpu_ram<=48', { gpu_ram: { gte: 24000, lte: 48000 } }],
      ['a=any', {}],
    ];
    for (const [q, want] of cases) assert.deepEqual(parseSearchQuery(q), want, q);
    for (const q of ['a>', 'a!=', 'a in', 'a in[1]', 'ain [1]', 'a\u00a0in\u00a0[1]x', '1=a', 'a=1 \rb=2'])
      assert.deepEqual(outcome(parseSearchQuery, q), outcome(oldParse, q), q);
    assert.throws(() => parseSearchQuery('a!='), /Cannot read the search query at: 'a!='/);
  });

  it(`refuses a query over ${MAX_SEARCH_QUERY_CHARS} characters before reading it, 1 MB of white space too`, () => {
    const long = `a${' '.repeat(1_000_000)}!`;
    assert.throws(
      () => parseSearchQuery(long),
      (e: unknown) => e instanceof GantryError && e.code === 'INVALID_QUERY' && e.message.includes(`at most ${MAX_SEARCH_QUERY_CHARS}`),
    );
    assert.throws(() => parseSearchQuery('a=1 '.repeat(MAX_SEARCH_QUERY_CHARS / 4) + ' '), /at most 16384/);
    assert.deepEqual(parseSearchQuery('a=1 '.repeat(MAX_SEARCH_QUERY_CHARS / 4)), { a: { eq: 1 } }, 'exactly the limit is read');
  });

  it('reads the shapes that were slow, at the limit, by the rules of the language', () => {
    const n = MAX_SEARCH_QUERY_CHARS - 20;
    assert.throws(
      () => parseSearchQuery(`a${' '.repeat(n)}!`),
      (e: unknown) => e instanceof GantryError && e.message.startsWith(`Cannot read the search query at: 'a${' '.repeat(n)}!'`),
    );
    assert.deepEqual(parseSearchQuery(`gpu_name${' '.repeat(n)}in [A100]`), { gpu_name: { in: ['A100'] } });
    assert.deepEqual(parseSearchQuery(`a${'\t'.repeat(n)}notin${' '.repeat(10)}x`), { a: { notin: ['x'] } });
    assert.throws(() => parseSearchQuery(`a${' '.repeat(n)}in`), /Cannot read/);
    assert.deepEqual(parseSearchQuery('a=[ '.repeat(n / 4)), { a: { eq: '[' } }, 'lists never closed');
    assert.deepEqual(parseSearchQuery(`a="${' '.repeat(n)}`), { a: { eq: '' } }, 'a quote never closed is a word');
    assert.deepEqual(parseSearchQuery(`a=${'x'.repeat(n)}`), { a: { eq: 'x'.repeat(n) } });
  });

  it('uses regular expressions only for single characters: every repetition is a loop that moves forward', () => {
    const file = fileURLToPath(new URL('../../../src/api/dialects/vast/query-language.ts', import.meta.url));
    const source = ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.Latest, true);
    const patterns: string[] = [];
    const visit = (node: ts.Node): void => {
      if (node.kind === ts.SyntaxKind.RegularExpressionLiteral) patterns.push(node.getText(source));
      ts.forEachChild(node, visit);
    };
    visit(source);
    assert.ok(patterns.length > 0, 'found the regular expressions');
    for (const p of patterns) {
      const body = p.slice(1, p.lastIndexOf('/'));
      // Escapes and character classes are one character each; what is left must repeat nothing.
      const bare = body.replace(/\\./g, 'x').replace(/\[(?:\\.|[^\]\\])*\]/g, 'x');
      assert.doesNotMatch(bare, /[*+?{]/, `${p} repeats: the reader scans by hand so that no input costs more than a pass`);
    }
  });
});
