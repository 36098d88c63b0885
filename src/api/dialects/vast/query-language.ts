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

/** `fieldOf` names the field of each term (the CLI translates aliases and refuses unknown names); every term's, `any` too. */
export function parseSearchQuery(text: string, fieldOf: (name: string) => string = (n) => n): Record<string, Record<string, unknown>> {
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
    const field = fieldOf(m[1] as string);
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
