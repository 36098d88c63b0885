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
const TERM = /([A-Za-z_][A-Za-z0-9_]*)\s*(>=|<=|!=|==|=|>|<|\s+notin\s+|\s+nin\s+|\s+in\s+)\s*(\[[^\]]*\]|"[^"]*"|'[^']*'|[^\s]+)/gy;

function value(field: string, raw: string): unknown {
  const t = raw.replace(/^["']|["']$/g, '');
  if (t === 'true' || t === 'True') return true;
  if (t === 'false' || t === 'False') return false;
  if (t !== '' && Number.isFinite(Number(t))) return GB_FIELDS.has(field) ? Number(t) * 1000 : Number(t);
  return t;
}

export function parseSearchQuery(text: string): Record<string, Record<string, unknown>> {
  // Field names are the caller's text: `__proto__=1` must be an unknown field, not the result's prototype.
  const out = new Map<string, Record<string, unknown>>();
  const s = text.trim();
  let pos = 0;
  while (pos < s.length) {
    while (s[pos] === ' ' || s[pos] === '\t' || s[pos] === '\n') pos++;
    if (pos >= s.length) break;
    TERM.lastIndex = pos;
    const m = TERM.exec(s);
    if (!m) throw new GantryError('INVALID_QUERY', `Cannot read the search query at: '${s.slice(pos)}'. Use terms like num_gpus>=2 gpu_name=RTX_4090.`);
    pos = TERM.lastIndex;
    const field = m[1] as string;
    const op = OPS[(m[2] as string).trim()] as string;
    const raw = m[3] as string;
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
