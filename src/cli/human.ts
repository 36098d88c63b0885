import type { Row } from '../sdk/client.js';
import { day, gb, rate, usd, when, yesNo } from './format.js';
import { INSTANCE_COLUMNS, printJson, RUNTIME_NOTE, table, terminalText, text } from './output.js';

/** Human lines and tables of the CLI verbs; every verb prints JSON instead with `--raw`. */
export type Columns = [string, string | ((r: Row) => unknown)][];

/** Print `r` as JSON with --raw, else the line; a result that says it failed sets the exit code. */
export function say(f: { raw?: unknown }, r: unknown, line: string | (() => string)): void {
  if (f.raw === true) printJson(r);
  else {
    // The line carries what the server answered (messages, names): no escape of anyone's reaches the terminal.
    const s = terminalText(typeof line === 'function' ? line() : line);
    process.stdout.write(s.endsWith('\n') ? s : `${s}\n`);
  }
  if (typeof r === 'object' && r !== null && (r as Row).success === false) process.exitCode = 1;
}

/** Instances as a table; the process runtime's note on images is said once, below it. */
export function instanceTable(rows: readonly Row[]): string {
  const noted = rows.some((r) => typeof r.status_msg === 'string' && RUNTIME_NOTE.test(r.status_msg));
  return table(rows, INSTANCE_COLUMNS) + (noted ? `\nNote: ${RUNTIME_NOTE.source}.\n` : '');
}

/** One line per id of a bulk call (`results: [{id, success, changed, msg}]`). */
export function bulkLines(r: Row, done: string): string {
  const results = Array.isArray(r.results) ? (r.results as Row[]) : [];
  if (results.length === 0) return text(r.msg ?? (r.success === true ? 'ok' : 'failed'));
  return results
    .map((x) => `instance ${text(x.id)}: ${x.success === true ? (x.changed === false ? `already ${done}` : done) : `failed: ${text(x.msg ?? x.error)}`}`)
    .join('\n');
}

export const MACHINE_COLUMNS: Columns = [
  ['ID', 'id'],
  ['Host', 'hostname'],
  ['N', 'num_gpus'],
  ['Model', 'gpu_name'],
  ['GPU RAM', (r) => (typeof r.gpu_ram === 'number' ? `${(r.gpu_ram / 1000).toFixed(0)}GB` : null)],
  ['Disk', (r) => gb(r.disk_space)],
  ['$/GPU/hr', (r) => rate(r.listed_gpu_cost)],
  ['Listed', (r) => yesNo(r.listed)],
  ['Verified', 'verification'],
  ['Runtime', 'runtype'],
  ['Maintenance', maintenance],
  ['Online', (r) => (r.online === true ? 'yes' : r.online === false ? `no (no heartbeat since ${when(r.last_seen) ?? 'ever'})` : null)],
];

function maintenance(r: Row): string | null {
  const m = r.maintenance as { sdate?: number; edate?: number; reason?: string | null } | null | undefined;
  if (m === null || m === undefined) return null;
  const span = `${when(m.sdate) ?? '?'}..${when(m.edate) ?? '?'}`;
  return `${r.in_maintenance === true ? 'now ' : ''}${span}${m.reason ? ` ${m.reason}` : ''}`;
}

/** A `{results: [...]}` page of charges or invoices. */
export function chargeTable(r: Row, kind: 'charges' | 'invoices'): string {
  const rows = Array.isArray(r.results) ? (r.results as Row[]) : [];
  if (rows.length === 0) return `No ${kind}.\n`;
  const note = (x: Row): unknown => (x.metadata as Row | undefined)?.note ?? null;
  const cols: Columns = [
    ['Start', (x) => when(x.start)],
    ['End', (x) => when(x.end)],
    ['Type', 'type'],
    ['Source', 'source'],
    ['Amount', (x) => usd(x.amount, kind === 'charges' ? 4 : 2)],
    ...(kind === 'charges' ? ([['$/hr', (x: Row) => rate(x.rate)]] as Columns) : ([['Note', note]] as Columns)),
  ];
  // `total` counts rows (as on Vast); the money is the charges' `total_amount`, else the sum of the amounts shown.
  const total = r.total_amount ?? rows.reduce((s, x) => s + (typeof x.amount === 'number' ? x.amount : 0), 0);
  return `${table(rows, cols)}\nTotal: ${usd(total, kind === 'charges' ? 4 : 2) ?? '-'}\n`;
}

export function sshKeyTable(rows: readonly Row[]): string {
  if (rows.length === 0) return 'No SSH keys.\n';
  return table(rows, [
    ['ID', 'id'],
    ['Key', (r) => shortKey(r.public_key ?? r.key)],
    ['Added', (r) => when(r.created_at)],
  ]);
}

/** `ssh-ed25519 AAAA…Fake a@b`: type, a little of the key, the comment. */
function shortKey(v: unknown): string {
  const [type = '', body = '', ...comment] = text(v).split(' ');
  return [type, body.length > 24 ? `${body.slice(0, 12)}…${body.slice(-8)}` : body, ...comment].join(' ');
}

export function auditTable(rows: readonly Row[]): string {
  if (rows.length === 0) return 'No audit log entries.\n';
  return table(rows, [
    ['ID', 'id'],
    ['When', (r) => when(r.created_at)],
    ['User', 'user_id'],
    ['Key', 'api_key_id'],
    ['From', 'ip_address'],
    ['Call', (r) => `${text(r.method)} ${text(r.path)}`],
    ['Status', 'status_code'],
    ['Error', 'error'],
  ]);
}

export function earningsText(r: Row): string {
  const cur = (r.current ?? {}) as Row;
  const rows = (k: string): Row[] => (Array.isArray(r[k]) ? (r[k] as Row[]) : []);
  const money: Columns = [
    ['GPU', (x) => usd(x.gpu_earn, 4)],
    ['Storage', (x) => usd(x.sto_earn, 4)],
    ['Upload', (x) => usd(x.bwu_earn, 4)],
    ['Download', (x) => usd(x.bwd_earn, 4)],
  ];
  return [
    `Earnings of ${text(r.username)}: total ${usd(cur.total, 4) ?? '-'}, balance ${usd(cur.balance) ?? '-'}, service fee ${usd(cur.service_fee) ?? '-'}`,
    '',
    'Per machine:',
    rows('per_machine').length === 0 ? 'none\n' : table(rows('per_machine'), [['Machine', 'machine_id'], ...money]),
    'Per day (UTC):',
    rows('per_day').length === 0 ? 'none\n' : table(rows('per_day'), [['Day', (x) => day(x.day)], ...money]),
  ].join('\n');
}

/** `show user`: who the key acts for, balance, and what the key may do. */
export function userText(u: Row): string {
  const perms = u.api_key_permissions;
  const rights =
    perms === null || perms === undefined
      ? '-'
      : Object.entries(perms as Row)
          .map(([c, ids]) => (ids === null ? c : `${c} (ids ${JSON.stringify(ids)})`))
          .join(', ');
  return [
    `User:        ${text(u.username)} (id ${text(u.id)})${u.is_admin === true ? ', admin' : ''}`,
    `Email:       ${text(u.email)}`,
    `Balance:     ${usd(u.balance) ?? '-'}`,
    `Credit:      ${usd(u.credit) ?? '-'}`,
    `Key:         ${u.api_key_id === undefined || u.api_key_id === null ? '-' : `id ${text(u.api_key_id)}`}${typeof u.api_key_scope === 'string' && u.api_key_scope !== 'full' ? ` (${u.api_key_scope})` : ''}`,
    `Permissions: ${rights}`,
  ].join('\n');
}
