import { GantryError } from '../../../domain/errors.js';

/**
 * The search language of the vastai CLI: `gpu_name=RTX_4090 num_gpus>=2 dph_total<0.5 reliability > 0.99`.
 * Memory fields are given in GB on the command line and sent in MB, as vastai does.
 */
const OPS: Readonly<Record<string, string>> = {
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
const GB_FIELDS = new Set(['gpu_ram', 'cpu_ram', 'gpu_total_ram']);

/**
 * The longest search query read, in characters: `search_params` wherever it arrives and the CLI's query.
 * Far above any real query; code deployments bound each of their text fields with it too.
 */
export const MAX_SEARCH_QUERY_CHARS = 16_384;

/** Symbol operators in the order they are tried: `>=` before `>`, so `a>=` (nothing after) is `a > '='`. */
const SYMBOL_OPS = ['>=', '<=', '!=', '==', '=', '>', '<'];
/** Word operators, with white space on both sides (`gpu_name in [A,B]`): before one, the name took every letter. */
const WORD_OPS = ['notin', 'nin', 'in'];
/** JavaScript's `\s`, tested on one UTF-16 unit (the set `trim()` removes). */
const SPACE = /\s/;

const isSpace = (s: string, i: number): boolean => i < s.length && SPACE.test(s[i] as string);
const isNameStart = (c: number): boolean => (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 95;
const isNamePart = (c: number): boolean => isNameStart(c) || (c >= 48 && c <= 57);

function skipSpace(s: string, i: number): number {
  while (isSpace(s, i)) i++;
  return i;
}

/**
 * `s.indexOf(ch, from)` for a scan that only moves right: each answer is kept and reused while it is
 * still ahead, so `a=[ a=[ a=[ …` (no closing bracket) searches the rest of the text once, not once a term.
 */
function closerFinder(s: string): (ch: string, from: number) => number {
  const last = new Map<string, { from: number; at: number }>();
  return (ch, from) => {
    const hit = last.get(ch);
    if (hit !== undefined && hit.from <= from && (hit.at === -1 || hit.at >= from)) return hit.at;
    const at = s.indexOf(ch, from);
    last.set(ch, { from, at });
    return at;
  };
}

interface Term {
  readonly name: string;
  readonly op: string;
  readonly raw: string;
  readonly end: number;
}

/** A value at `i` (not white space): a [list], a "quoted" or 'quoted' string when it is closed, else a word. */
function valueAt(s: string, i: number, closer: (ch: string, from: number) => number): { raw: string; end: number } {
  const c = s[i];
  if (c === '[' || c === '"' || c === "'") {
    const at = closer(c === '[' ? ']' : c, i + 1);
    if (at !== -1) return { raw: s.slice(i, at + 1), end: at + 1 };
  }
  let end = i;
  while (end < s.length && !isSpace(s, end)) end++;
  return { raw: s.slice(i, end), end };
}

/**
 * One term `NAME OP VALUE` at `pos`, or null. A hand-written scan rather than a regular expression: the
 * regex it replaced let white space before a word operator match two ways (`\s*` then `\s+in\s+`), so a
 * name followed by 64,000 spaces took seconds. Here every character is read a bounded number of times.
 * It accepts what that regex accepted, match for match (a property test compares the two).
 */
function termAt(s: string, pos: number, closer: (ch: string, from: number) => number): Term | null {
  if (!isNameStart(s.charCodeAt(pos))) return null;
  let i = pos + 1;
  while (i < s.length && isNamePart(s.charCodeAt(i))) i++;
  const name = s.slice(pos, i);
  const opAt = skipSpace(s, i);
  // An operator with nothing after it gives way to the next one that fits (`a>=` reads as `a > '='`).
  for (const op of SYMBOL_OPS) {
    if (!s.startsWith(op, opAt)) continue;
    const v = skipSpace(s, opAt + op.length);
    if (v < s.length) return { name, op, ...valueAt(s, v, closer) };
  }
  for (const op of WORD_OPS) {
    const after = opAt + op.length;
    if (!s.startsWith(op, opAt) || !isSpace(s, after)) continue;
    const v = skipSpace(s, after);
    if (v < s.length) return { name, op, ...valueAt(s, v, closer) };
  }
  return null;
}

function value(field: string, raw: string): unknown {
  const t = raw.replace(/^["']|["']$/g, '');
  if (t === 'true' || t === 'True') return true;
  if (t === 'false' || t === 'False') return false;
  if (t !== '' && Number.isFinite(Number(t))) return GB_FIELDS.has(field) ? Number(t) * 1000 : Number(t);
  return t;
}

/** `fieldOf` names the field of each term (the CLI translates aliases and refuses unknown names); every term's, `any` too. */
export function parseSearchQuery(text: string, fieldOf: (name: string) => string = (n) => n): Record<string, Record<string, unknown>> {
  if (text.length > MAX_SEARCH_QUERY_CHARS)
    throw new GantryError('INVALID_QUERY', `The search query is ${text.length} characters long; at most ${MAX_SEARCH_QUERY_CHARS} are read.`);
  // Field names are the caller's text: `__proto__=1` must be an unknown field, not the result's prototype.
  const out = new Map<string, Record<string, unknown>>();
  const s = text.trim();
  const closer = closerFinder(s);
  let pos = 0;
  while (pos < s.length) {
    while (s[pos] === ' ' || s[pos] === '\t' || s[pos] === '\n') pos++;
    if (pos >= s.length) break;
    const m = termAt(s, pos, closer);
    if (m === null) throw new GantryError('INVALID_QUERY', `Cannot read the search query at: '${s.slice(pos)}'. Use terms like num_gpus>=2 gpu_name=RTX_4090.`);
    pos = m.end;
    const field = fieldOf(m.name);
    const op = OPS[m.op] as string;
    const raw = m.raw;
    if (raw === 'any' || raw === 'None') continue;
    const v =
      op === 'in' || op === 'notin'
        ? raw
            .replace(/^\[|\]$/g, '')
            .split(',')
            .map((x) => value(field, x.trim()))
            .filter((x) => x !== '')
        : value(field, raw);
    out.set(field, { ...out.get(field), [op]: v });
  }
  return Object.fromEntries(out);
}

/** `-o 'dph_total'`, `-o 'num_gpus-,dph_total'`: a trailing '-' sorts descending. */
export function parseOrder(text: string): [string, 'asc' | 'desc'][] {
  return text
    .split(',')
    .map((t) => t.trim())
    .filter((t) => t !== '')
    .map((t) => (t.endsWith('-') ? [t.slice(0, -1), 'desc'] : [t.replace(/\+$/, ''), 'asc']));
}

/**
 * The offer fields a search filters and sorts on, by their Vast names (offers.ts maps each to the
 * engine; a unit test keeps the two lists equal). The CLI refuses any other name; the API ignores
 * unknown names, as Vast's clients send many.
 */
export const SEARCH_FIELDS: readonly string[] = (
  'id ask_contract_id bundle_id machine_id host_id hostname gpu_name gpu_arch num_gpus gpu_ram gpu_total_ram gpu_frac ' +
  'gpu_display_active gpu_declared compute_cap total_flops cpu_name cpu_arch cpu_cores cpu_cores_effective cpu_ram ' +
  'disk_space dph_total dph_base storage_cost inet_up inet_down inet_up_cost inet_down_cost min_bid reliability ' +
  'reliability2 verified rentable rented external static_ip direct_port_count dlperf dlperf_per_dphtotal ' +
  'flops_per_dphtotal geolocation cuda_max_good driver_version os_version score'
).split(' ');

/** The vastai CLI's own short names, which it translates before sending (`dph<1` is `dph_total<1`). */
export const SEARCH_ALIASES: Readonly<Record<string, string>> = {
  cuda_vers: 'cuda_max_good',
  display_active: 'gpu_display_active',
  dlperf_usd: 'dlperf_per_dphtotal',
  dph: 'dph_total',
  flops_usd: 'flops_per_dphtotal',
};

/** Operators of the search language, as `search offers --help` lists them. */
export const SEARCH_OPERATORS: readonly string[] = ['=', '==', '!=', '>', '>=', '<', '<=', 'in', 'notin', 'nin'];
