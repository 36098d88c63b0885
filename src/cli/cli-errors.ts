import { readFileSync, statSync } from 'node:fs';
import type { Command } from 'commander';
import { GantryApiError } from '../sdk/client.js';
import { GantryConnectionError, noAnswerReason } from '../sdk/errors.js';
import { connectionOf, type GlobalFlags } from './connection.js';
import { terminalText } from './output.js';

/**
 * Vast's limit on onstart, which the API enforces too (src/domain/instance/create.ts; a unit test
 * keeps the two equal). The CLI checks a file first: a large one would otherwise be refused by the
 * server's body limit with a message that does not say which limit.
 */
export const ONSTART_LIMIT_CHARS = 4048;

function onstartTooLong(what: string, size: string): Error {
  return new Error(`${what} is ${size}; onstart is limited to ${ONSTART_LIMIT_CHARS} characters. Put longer scripts on the disk and call them from onstart.`);
}

/** The content of an `--onstart` file, or a plain error when it is missing or over the limit. */
export function readOnstartFile(file: string): string {
  let size: number;
  try {
    size = statSync(file).size;
  } catch (err) {
    throw new Error(`--onstart: cannot read '${file}' (${(err as { code?: string }).code === 'ENOENT' ? 'no such file' : String((err as Error).message)}).`);
  }
  // UTF-8 spends at most 3 bytes per (UTF-16) character: a file this large is over the limit unread.
  if (size > ONSTART_LIMIT_CHARS * 3) throw onstartTooLong(`--onstart file '${file}'`, `${size} bytes`);
  const text = readFileSync(file, 'utf8');
  if (text.length > ONSTART_LIMIT_CHARS) throw onstartTooLong(`--onstart file '${file}'`, `${text.length} characters`);
  return text;
}

/** One line for a failed command: what went wrong, and what to do about it where the CLI knows. */
export function cliErrorText(err: unknown, flags: GlobalFlags, command = ''): string {
  // The server's message may quote names others chose (an admin's command on a tenant's endpoint): no escape passes.
  return terminalText(errorText(err, flags, command));
}

function errorText(err: unknown, flags: GlobalFlags, command: string): string {
  if (err instanceof GantryApiError) {
    // The server names the permission (`misc`, `user_write`) and at most an id; the command says which resource was meant.
    if (err.status === 403 && command !== '') return `gantry ${command}: ${err.message}`;
    if (err.status === 401) {
      const c = connectionOf(flags);
      if (c.keySource === null)
        return `no API key: set GANTRY_API_KEY or pass --api-key <key>. \`gantry up\` keeps its admin key in its data dir (none at ${c.keyFile}; GANTRY_DATA_DIR names the data dir).`;
      return `${err.message} (the key came from ${c.keySource})`;
    }
    return err.message;
  }
  // No answer at all (refused, unknown host, bad port): the reason says which.
  if (err instanceof GantryConnectionError || (err instanceof TypeError && err.message === 'fetch failed')) {
    return `no Gantry server answers at ${connectionOf(flags).url} (${noAnswerReason(err)}); is \`gantry up\` running? One started with --data-dir: GANTRY_DATA_DIR=<dir>; another server: --url or GANTRY_URL.`;
  }
  const e = err as { code?: string; path?: string } | null;
  if (e?.code === 'ENOENT' && typeof e.path === 'string') return `no such file: ${e.path}`;
  return err instanceof Error ? err.message : String(err);
}

/** The command being run, as typed (`stop instance 1`), for error messages; set before each action runs. */
export function trackCommand(program: Command): () => string {
  let current = '';
  program.hook('preAction', (_root, action) => {
    const names: string[] = [];
    for (let c: Command | null = action; c !== null && c !== program; c = c.parent) names.unshift(c.name());
    current = [...names, ...action.args].join(' ');
  });
  return () => current;
}
