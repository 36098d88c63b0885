import type { Command } from 'commander';
import type { Row } from '../sdk/client.js';
import { gb, rate } from './format.js';

/**
 * Plain fixed-width table for people; `--raw` prints JSON instead. No rows: the `none` line, never a
 * bare header (which reads like a failed command).
 */
export function table(rows: readonly Row[], columns: readonly [header: string, key: string | ((r: Row) => unknown)][], none = 'None.'): string {
  if (rows.length === 0) return `${none}\n`;
  const cells = rows.map((r) => columns.map(([, k]) => fmt(typeof k === 'function' ? k(r) : r[k])));
  const widths = columns.map(([h], i) => Math.max(h.length, ...cells.map((c) => (c[i] ?? '').length)));
  const line = (vals: readonly string[]): string =>
    vals
      .map((v, i) => v.padEnd(widths[i] ?? 0))
      .join('  ')
      .trimEnd();
  return [line(columns.map(([h]) => h)), ...cells.map(line)].join('\n') + '\n';
}

/** Control characters and bidirectional overrides: a cell holds other people's text (a host's GPU name, a label). */
const CONTROLS = /[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/g;
/** The same but for newline and tab, in text of several lines. */
const CONTROLS_BUT_LINES = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/g;

/**
 * Text from the server on one line, with nothing in it that a terminal would act on (escapes become `?`):
 * a tenant's label or endpoint name printed to an admin must not clear the screen or reorder the line.
 */
export const oneLine = (s: string): string => s.replace(CONTROLS, '?');

/** The same for text of several lines (a message, an error): newlines and tabs stay, a carriage return does not. */
export const terminalText = (s: string): string => s.replace(CONTROLS_BUT_LINES, '?');

/** A cell as text, on one line, with nothing in it that a terminal would act on (escapes become `?`). */
function fmt(v: unknown): string {
  if (v === null || v === undefined) return '-';
  if (typeof v === 'number') return Number.isInteger(v) ? String(v) : v.toFixed(v < 1 ? 4 : 2);
  return oneLine(typeof v === 'object' ? JSON.stringify(v) : typeof v === 'string' ? v : typeof v === 'boolean' || typeof v === 'bigint' ? String(v) : '?');
}

/** Text of a JSON value from a response row. */
export function text(v: unknown): string {
  return v === null || v === undefined ? '' : typeof v === 'string' ? v : typeof v === 'number' || typeof v === 'boolean' ? String(v) : JSON.stringify(v);
}

export const OFFER_COLUMNS: [string, string | ((r: Row) => unknown)][] = [
  ['ID', 'id'],
  ['Machine', 'machine_id'],
  ['N', 'num_gpus'],
  ['Model', 'gpu_name'],
  ['GPU RAM', (r) => (typeof r.gpu_ram === 'number' ? `${(r.gpu_ram / 1000).toFixed(0)}GB` : null)],
  ['vCPUs', 'cpu_cores_effective'],
  ['Disk', (r) => gb(r.disk_space)],
  ['$/hr', (r) => rate(r.dph_total)],
  ['DLP', 'dlperf'],
  ['R', 'reliability'],
  ['Verified', 'verified'],
  ['Declared', 'gpu_declared'],
];

/** Instance states in which nothing runs: GPU time is not billed, the disk is. */
const AT_REST = new Set(['stopped', 'exited', 'failed', 'unknown']);

export const INSTANCE_COLUMNS: [string, string | ((r: Row) => unknown)][] = [
  ['ID', 'id'],
  ['Machine', 'machine_id'],
  ['Status', 'actual_status'],
  ['Intended', 'intended_status'],
  ['N', 'num_gpus'],
  ['Model', 'gpu_name'],
  [
    'Ports',
    (r) =>
      Object.entries((r.ports ?? {}) as Record<string, { HostPort: string }[]>)
        .map(([k, v]) => `${v[0]?.HostPort ?? '?'}->${k}`)
        .join(','),
  ],
  // A stopped instance pays for its disk only: show that, not the running price.
  // At rest (stopped, exited, failed, host offline) only the disk is billed: that is the rate shown.
  ['$/hr', (r) => (AT_REST.has(String(r.gantry_status ?? r.actual_status)) ? `${rate(r.storage_total_cost) ?? '-'} (disk)` : rate(r.dph_total))],
  ['Disk', (r) => gb(r.disk_space)],
  ['Image', 'image_uuid'],
  ['Label', 'label'],
  ['Message', (r) => withoutRuntimeNote(r.status_msg)],
];

/** The process runtime's note on images, said once below a table instead of in every row. */
export const RUNTIME_NOTE = /process runtime: the image is recorded but not pulled; commands run in the host environment/;

export function withoutRuntimeNote(msg: unknown): string | null {
  if (typeof msg !== 'string') return null;
  const rest = msg
    .replace(RUNTIME_NOTE, '')
    .replace(/^[\s;,()]+|[\s;,(]+$/g, '')
    .trim();
  return rest === '' ? null : rest;
}

/** A one-line spinner on stderr while waiting (plain lines when stderr is not a terminal). */
export function spinner(text: string): { update(status: string): void; stop(final: string): void; done(line: string, ok?: boolean): void } {
  const frames = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];
  const tty = process.stderr.isTTY;
  let i = 0;
  let last = '';
  return {
    update(status) {
      if (tty) process.stderr.write(`\r${frames[i++ % frames.length] ?? ''} ${text}: ${status}   `);
      else if (status !== last) process.stderr.write(`${text}: ${status}\n`);
      last = status;
    },
    stop(final) {
      process.stderr.write(tty ? `\r✔ ${text}: ${final}        \n` : `${text}: ${final}\n`);
    },
    /** The one closing line, said whole (`✔ instance 1 stopped`). */
    done(line, ok = true) {
      process.stderr.write(`${tty ? '\r\x1b[K' : ''}${ok ? '✔' : '✖'} ${line}\n`);
    },
  };
}

/** `-q, --quiet` of vastai's show verbs: only the ids (before --raw in `show instances`/`show deployments`, after it in `show machines`/`show deployment`, as vastai). */
export const QUIET_FLAG = ['-q, --quiet', 'only the ids'] as const;

/** Ids only: one a line (`show instances -q`), or on one line apart by spaces as vastai prints machines' (`sep` ' '). */
export function printIds(rows: readonly Row[], sep: '\n' | ' ' = '\n'): void {
  const ids = rows.map((r) => r.id).filter((v) => v !== null && v !== undefined);
  if (sep === ' ' || ids.length > 0) process.stdout.write(ids.map(text).join(sep) + '\n');
}

/** Pretty JSON on stdout (what every verb prints with --raw, and mutations always). */
export function printJson(v: unknown): void {
  process.stdout.write(JSON.stringify(v, null, 2) + '\n');
}

/** A number given on the command line: one that does not parse stops the verb, naming the flag, rather than being dropped. */
export function cliNumber(text: unknown, flag: string): number {
  const n = typeof text === 'string' && text.trim() !== '' ? Number(text) : NaN;
  if (!Number.isFinite(n)) throw new Error(`${flag} '${String(text)}' is not a number.`);
  return n;
}

/** A positive integer id from the command line, or an error naming what was expected. */
export function parseCliId(text: string, what: string): number {
  const n = Number(text);
  if (!Number.isSafeInteger(n) || n <= 0) throw new Error(`'${text}' is not ${/^[aeiou]/.test(what) ? 'an' : 'a'} ${what} id.`);
  return n;
}

/** Sub-command `verb noun` on a verb group that may already exist (`create instance`, `create deployment`). */
export function verbGroup(program: Command, verb: string, description: string): Command {
  return program.commands.find((c) => c.name() === verb) ?? program.command(verb).description(description);
}
