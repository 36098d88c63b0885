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

/** Reads NUL-ended `NAME=value` records from ENV_FD, exports them, closes it, and runs its arguments. */
export const ENV_HANDOFF: readonly string[] = [
  'bash',
  '--noprofile',
  '--norc',
  '-c',
  `while IFS= read -r -d '' kv; do export -- "$kv"; done <&${ENV_FD}; exec ${ENV_FD}<&-; exec "$@"`,
  'gantry-env',
];

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
  return out;
}

/** Start bwrap with `args` (built with ENV_HANDOFF before the command), what it runs getting `env`. */
export function spawnSandboxed(args: readonly string[], o: SpawnOptions & { path: string }): ChildProcess {
  const records = envRecords(o.env);
  const stdio: StdioOptions = o.stdio === 'pipe' ? ['pipe', 'pipe', 'pipe', 'pipe'] : [...o.stdio, 'pipe'];
  // Its processes, the sandbox's own among them, are found by their labels: a stop waits for them, and they wait
  // for every process inside.
  const own: NodeJS.ProcessEnv = { PATH: o.path };
  for (const k of LABEL_VARS) if (o.env[k] !== undefined) own[k] = o.env[k];
  const child = spawn('bwrap', args, { cwd: '/', env: own, detached: o.detached, stdio });
  const input = child.stdio[ENV_FD] as Writable;
  input.on('error', () => undefined); // a bwrap that failed at once: its exit says why
  input.end(records);
  return child;
}
