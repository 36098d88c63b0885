import { spawn, type ChildProcess, type StdioOptions } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, constants, fstatSync, openSync, unlinkSync, writeFileSync } from 'node:fs';
import { chmod, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { LABEL_VARS } from './proc-table.js';

/*
 * A workload's environment is the tenant's to choose (PATH, LD_LIBRARY_PATH, ...), and everything that runs as
 * root on its way into the sandbox (bwrap, which builds it; setpriv, which drops to the instance's uid) would
 * take it: look a program up in the tenant's PATH, load the tenant's libraries. So those run with the agent's PATH
 * and the workload's labels alone, and the environment is handed over on a descriptor (never argv, which any user
 * of the host can read) to a shell that runs as the tenant already: it exports it and becomes the workload.
 *
 * That descriptor is an unlinked regular file, not a pipe: bash reads a pipe one byte per read(2) (it cannot seek
 * back what it read past a record), a file in blocks. With a 512 KiB environment (the bound) the hand-off took
 * 180 ms from a pipe (524,261 reads) and 20 from a file (134 reads), and a sandboxed start 330 ms against 55,
 * at every start and SSH session (bash 5.2, docs/decisions/008-process-sandbox.md).
 */

/** The descriptor the environment comes by: the first past stdio. */
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
  // Descriptors past stdio that the agent itself inherited without close-on-exec (from a shell, a supervisor)
  // pass through Node's spawn and bwrap: closed here, so none reaches the workload.
  'for GANTRY_ENV_FD in /proc/self/fd/*; do',
  '  GANTRY_ENV_FD=${GANTRY_ENV_FD##*/}',
  '  [[ $GANTRY_ENV_FD =~ ^[0-9]+$ ]] && ((GANTRY_ENV_FD > 2)) && exec {GANTRY_ENV_FD}>&-',
  'done',
  'unset GANTRY_ENV_FD',
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

/**
 * Start bwrap with `args` (built with ENV_HANDOFF before the command), what it runs getting `env`, handed over
 * in a file of `handoffDir` (envFile). bwrap closes it in its own two processes (the monitor outside, init inside),
 * so the hand-off's shell holds the only copy, and closes it before it becomes the workload.
 */
export function spawnSandboxed(args: readonly string[], o: SpawnOptions & { path: string; handoffDir: string }): ChildProcess {
  const records = envFile(o.handoffDir, envRecords(o.env));
  try {
    const stdio: StdioOptions = o.stdio === 'pipe' ? ['pipe', 'pipe', 'pipe', records] : [...o.stdio, records];
    // Its processes, the sandbox's own among them, are found by their labels: a stop waits for them, and they wait
    // for every process inside.
    // The agent's PATH, absolute folders only: bwrap looks setpriv up from the tenant's disk (its --chdir), as root.
    const own: NodeJS.ProcessEnv = { PATH: absolutePath(o.path) };
    for (const k of LABEL_VARS) if (o.env[k] !== undefined) own[k] = o.env[k];
    return spawn('bwrap', args, { cwd: '/', env: own, detached: o.detached, stdio });
  } finally {
    // The child has its own copy once spawn returns (a failed exec too); the agent's is close-on-exec meanwhile, so
    // no other child (another tenant's sandbox) can have inherited it.
    closeSync(records);
  }
}

/**
 * The folder envFile writes in, in the runtime's root: that is the agent's alone (0700, in its data dir), never
 * the tenant's disk nor a shared /tmp, where another user could make the name first or a link in its place.
 */
export const handoffDir = (root: string): string => join(root, 'env-handoff');

/** Make handoffDir(root), the agent's alone whatever the umask or an earlier mode. */
export async function openHandoffDir(root: string): Promise<void> {
  await mkdir(handoffDir(root), { recursive: true, mode: 0o700 });
  await chmod(handoffDir(root), 0o700);
}

/**
 * A read-only descriptor, at offset 0, of a file that holds `text` and that no name leads to any more: made
 * anew (O_EXCL) as 0600 in `dir`, a folder only the agent reaches, and unlinked before `text` is written, so a
 * name never holds the environment, not even one an agent killed at that moment leaves behind (it leaves an empty
 * file). The text lives as long as a descriptor does: a few milliseconds, until the hand-off has read it.
 */
export function envFile(dir: string, text: string): number {
  const path = join(dir, `env-${randomBytes(12).toString('hex')}`);
  const write = openSync(path, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600);
  let read: number | null = null;
  try {
    try {
      read = openSync(path, constants.O_RDONLY | constants.O_NOFOLLOW);
    } finally {
      unlinkSync(path);
    }
    const [w, r] = [fstatSync(write), fstatSync(read)];
    if (w.ino !== r.ino || w.dev !== r.dev || r.nlink !== 0) throw new Error(`the environment's file in ${dir} was replaced`);
    writeFileSync(write, text);
    return read;
  } catch (err) {
    if (read !== null) closeSync(read);
    throw err;
  } finally {
    closeSync(write);
  }
}

/** `path` with only its absolute folders: an empty or relative one names a folder of the working directory's. */
export function absolutePath(path: string): string {
  return path
    .split(':')
    .filter((d) => d.startsWith('/'))
    .join(':');
}
