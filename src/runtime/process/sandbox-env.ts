import { spawn, type ChildProcess, type StdioOptions } from 'node:child_process';
import type { Writable } from 'node:stream';
import { LABEL_VARS } from './proc-table.js';

/*
 * A workload's environment is the tenant's to choose (PATH, LD_LIBRARY_PATH, ...), and everything that runs as
 * root on its way into the sandbox (bwrap, which builds it; setpriv, which drops to the instance's uid) would
 * take it: look a program up in the tenant's PATH, load the tenant's libraries. So those run with the agent's PATH
 * and the workload's labels alone, and the environment is handed over by a pipe (never argv, which any user of
 * the host can read) to a shell that runs as the tenant already: it exports it and becomes the workload.
 */

/** The pipe the environment comes by: the first descriptor past stdio. */
const ENV_FD = 3;

/** The record that ends the environment: one missing (the agent gone while it wrote) starts nothing. */
const END = 'GANTRY_ENV_END';

/**
 * Reads the NUL-ended `NAME=value` records from ENV_FD, whole before anything is exported (an exported TMOUT
 * would bound a read), exports them, and runs its arguments. Its own variables are GANTRY_'s (reserved: no
 * user's name is overwritten); bash's read-only names and names no shell can hold are skipped (a failed export
 * would print at every login, or end the shell in POSIX mode).
 */
const HANDOFF_SCRIPT = [
  `mapfile -d '' -u ${ENV_FD} GANTRY_ENV_R; exec ${ENV_FD}<&-`,
  `[ "\${GANTRY_ENV_R[-1]-}" = ${END} ] || { echo 'gantry: the environment was cut short' >&2; exit 125; }`,
  'unset "GANTRY_ENV_R[-1]"',
  'for GANTRY_ENV_KV in "${GANTRY_ENV_R[@]}"; do',
  '  GANTRY_ENV_K=${GANTRY_ENV_KV%%=*}',
  '  case $GANTRY_ENV_K in UID | EUID | PPID | SHELLOPTS | BASHOPTS | BASH_VERSINFO | GANTRY_ENV_*) continue ;; esac',
  '  [[ $GANTRY_ENV_K =~ ^[A-Za-z_][A-Za-z0-9_]*$ ]] && export -- "$GANTRY_ENV_KV"',
  'done',
  'unset GANTRY_ENV_R GANTRY_ENV_KV GANTRY_ENV_K',
  'exec -- "$@"',
].join('\n');

/** What runs the workload's command with its environment: ENV_HANDOFF, then the command. */
export const ENV_HANDOFF: readonly string[] = ['bash', '--noprofile', '--norc', '-c', HANDOFF_SCRIPT, 'gantry-env'];

/** How a workload's process is started: its environment, its own process group or not, its stdio. */
export interface SpawnOptions {
  readonly env: NodeJS.ProcessEnv;
  readonly detached: boolean;
  readonly stdio: 'pipe' | ['ignore', number, number];
}

/**
 * The records ENV_HANDOFF reads. A NUL would end a record early and start another of the caller's making (an SSH
 * client's terminal type is one), and a name with `=` would set another: refused, as Node refuses them in an
 * environment.
 */
export function envRecords(env: NodeJS.ProcessEnv): string {
  let out = '';
  for (const [k, v] of Object.entries(env)) {
    if (v === undefined) continue;
    if (k === '' || k.includes('=') || k.includes('\0') || v.includes('\0'))
      throw new Error(`environment variable ${JSON.stringify(k)} cannot be passed to a process`);
    out += `${k}=${v}\0`;
  }
  return `${out}${END}\0`;
}

/** Start bwrap with `args` (built with ENV_HANDOFF before the command), what it runs getting `env`. */
export function spawnSandboxed(args: readonly string[], o: SpawnOptions & { path: string }): ChildProcess {
  const records = envRecords(o.env);
  const stdio: StdioOptions = o.stdio === 'pipe' ? ['pipe', 'pipe', 'pipe', 'pipe'] : [...o.stdio, 'pipe'];
  // Its processes, the sandbox's own among them, are found by their labels: a stop waits for them, and they wait
  // for every process inside.
  // The agent's PATH, absolute folders only: bwrap looks setpriv up from the tenant's disk (its --chdir), as root.
  const own: NodeJS.ProcessEnv = { PATH: absolutePath(o.path) };
  for (const k of LABEL_VARS) if (o.env[k] !== undefined) own[k] = o.env[k];
  const child = spawn('bwrap', args, { cwd: '/', env: own, detached: o.detached, stdio });
  const input = child.stdio[ENV_FD] as Writable;
  input.on('error', () => undefined); // a bwrap that failed at once: its exit says why
  input.end(records);
  return child;
}

/** `path` with only its absolute folders: an empty or relative one names a folder of the working directory's. */
export function absolutePath(path: string): string {
  return path
    .split(':')
    .filter((d) => d.startsWith('/'))
    .join(':');
}
