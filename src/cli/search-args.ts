import { parseOrder, parseSearchQuery, SEARCH_ALIASES, SEARCH_FIELDS, SEARCH_OPERATORS } from '../api/dialects/vast/query-language.js';

/**
 * `search offers` checks its query and order before sending them: the API ignores field names it
 * does not know (Vast's clients send many), so a typo such as `num_gpu>=1` would quietly return
 * every offer. Like vastai, the CLI translates vastai's short names (`dph` is `dph_total`).
 */

/** Fields of Vast's offers that Gantry does not record: vastai accepts them, Gantry cannot filter on them. */
const NOT_RECORDED: ReadonlySet<string> = new Set(
  'bw_nvlink cpu_ghz datacenter disk_bw duration gpu_mem_bw gpu_max_power gpu_max_temp has_avx mobo_name pci_gen pcie_bw ubuntu_version verification vms_enabled cluster_id'.split(
    ' ',
  ),
);
const KNOWN: ReadonlySet<string> = new Set(SEARCH_FIELDS);

function distance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let diag = row[0] as number;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const up = row[j] as number;
      row[j] = Math.min(up + 1, (row[j - 1] as number) + 1, diag + (a[i - 1] === b[j - 1] ? 0 : 1));
      diag = up;
    }
  }
  return row[b.length] as number;
}

/** The field a name means (an alias translated), or an error that names the valid ones. */
export function searchField(name: string, what: 'field' | 'order key'): string {
  const field = Object.prototype.hasOwnProperty.call(SEARCH_ALIASES, name) ? (SEARCH_ALIASES[name] as string) : name;
  if (KNOWN.has(field)) return field;
  if (NOT_RECORDED.has(field))
    throw new Error(`Gantry does not record the offer ${what} '${name}', so it cannot search on it. Valid ${what}s: ${validNames()}.`);
  const near = [...KNOWN, ...Object.keys(SEARCH_ALIASES)].filter((f) => distance(f, field) <= 2).sort((a, b) => distance(a, field) - distance(b, field));
  const hint = near.length > 0 ? ` Did you mean '${near[0] as string}'?` : '';
  throw new Error(`Unknown ${what} '${name}'.${hint} Valid ${what}s: ${validNames()}.`);
}

function validNames(): string {
  const aliases = Object.entries(SEARCH_ALIASES).map(([a, f]) => `${a} (${f})`);
  return [...SEARCH_FIELDS, ...aliases].join(', ');
}

/** The words of `search offers` as the API's filter object, every field checked (`foo=any` too). */
export function checkedSearchQuery(text: string): Record<string, Record<string, unknown>> {
  return parseSearchQuery(text, (name) => searchField(name, 'field'));
}

/** `-o` as the API's order, every key checked. */
export function checkedOrder(text: string): [string, 'asc' | 'desc'][] {
  return parseOrder(text).map(([name, dir]) => [searchField(name, 'order key'), dir]);
}

/** The part of `search offers --help` after the options: fields, aliases and operators. */
export function searchHelp(): string {
  const lines: string[] = [];
  let line = ' ';
  for (const f of SEARCH_FIELDS) {
    if (line.length + f.length > 100) {
      lines.push(line);
      line = ' ';
    }
    line += ` ${f}`;
  }
  lines.push(line);
  const aliases = Object.entries(SEARCH_ALIASES).map(([a, f]) => `${a}=${f}`);
  return [
    '',
    "Query: terms FIELD OP VALUE, e.g. 'num_gpus>=1 gpu_name=RTX_4090 dph<0.5'. Quote the query; memory (gpu_ram, cpu_ram) in GB.",
    `Operators: ${SEARCH_OPERATORS.join(' ')} (in/notin take a list: 'gpu_name in [RTX_4090,RTX_3090]'); VALUE any drops a default filter.`,
    'Fields (also the keys of -o, with - for descending):',
    ...lines,
    `Aliases (as in vastai): ${aliases.join(' ')}`,
    'Unknown fields and order keys are refused here; the API itself ignores them, for compatibility with Vast clients.',
  ].join('\n');
}
