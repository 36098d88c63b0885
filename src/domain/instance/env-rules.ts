import { CODE_RUNTIME_VAR } from '../serverless/code-deployment.js';

/**
 * What a workload's environment may hold, for account env vars (secrets), an instance's own env and a
 * serverless worker's (its workergroup's template) alike. A value the OS cannot pass (a NUL byte, an
 * environment past the kernel's limit) or a name the runtime or Gantry relies on (PATH, the loader's LD_*,
 * the injected variables) would make every start fail, so both are refused when written, with the reason,
 * instead of at each start.
 */

/**
 * Names the runtime's own start needs, or that load code into Gantry's helpers inside the workload (the
 * wrapper, the log stamper). LD_LIBRARY_PATH stays allowed: GPU images and users set it routinely.
 */
const RESERVED = new Set(['PATH', 'HOME', 'SHELL', 'IFS', 'BASH_ENV', 'LD_PRELOAD', 'LD_AUDIT']);
/** The variables Gantry injects into every workload (workload-spec.ts): a user value would be overridden or spoof them. */
const INJECTED = new Set([
  'CONTAINER_ID',
  'VAST_CONTAINERLABEL',
  'CONTAINER_API_KEY',
  'CUDA_VISIBLE_DEVICES',
  'PUBLIC_IPADDR',
  'PORT',
  'REPORT_ADDR',
  'MASTER_TOKEN',
  'WORKER_PORT',
]);
const RESERVED_PREFIXES = ['GANTRY_', 'VAST_TCP_PORT_', 'VAST_UDP_PORT_'];
/**
 * Reserved names that the official clients put in a worker's env themselves, so a workergroup's or a deployment's
 * env may hold them (an instance's may not). Vast's Python SDK sends `-e REPORT_ADDR=<its autoscaler>` with every
 * code deployment (`Deployment._compile_env`, vastai/serverless/remote/deploy.py), and Gantry replaces it at each
 * start (workload-spec.ts). Gantry's Node SDK sends GANTRY_CODE_RUNTIME, which picks the bootstrap. The rest they
 * send (-p ports, VAST_API_URL, USE_SYSTEM_PYTHON, UV_SYSTEM_PYTHON, UV_BREAK_SYSTEM_PACKAGES, ENV_PATH) is not
 * reserved; the CLIs and the other SDK calls send the user's env as written.
 */
const SENT_TO_WORKERS_BY_CLIENTS = new Set(['REPORT_ADDR', CODE_RUNTIME_VAR]);

/** Where a user's env goes: an instance's own env (and account secrets), or a serverless worker's template. */
export type EnvTarget = 'instance' | 'worker';

/** One value; Linux refuses a single environment string over 128 KiB (MAX_ARG_STRLEN). */
export const MAX_ENV_VALUE_BYTES = 64 * 1024;
/** All user variables of one workload (secrets plus instance env), well under the kernel's total (ARG_MAX). */
export const MAX_ENV_TOTAL_BYTES = 512 * 1024;

/** Why `name` may not be set by a user in `target`'s env, or null when it may. `name` is already a valid identifier. */
export function reservedEnvReason(name: string, target: EnvTarget = 'instance'): string | null {
  const upper = name.toUpperCase();
  if (target === 'worker' && SENT_TO_WORKERS_BY_CLIENTS.has(upper)) return null;
  if (RESERVED.has(upper)) return `'${name}' is reserved: the workload's runtime sets it.`;
  if (INJECTED.has(upper)) return `'${name}' is reserved: Gantry sets it for every workload.`;
  const prefix = RESERVED_PREFIXES.find((p) => upper.startsWith(p));
  if (prefix !== undefined) return `'${name}' is reserved: names starting with ${prefix} are set by Gantry.`;
  return null;
}

/** Why `value` cannot be passed to a process, or null when it can. */
export function envValueReason(name: string, value: string): string | null {
  if (value.includes('\0')) return `The value of '${name}' contains a NUL byte, which no process environment can hold.`;
  if (byteLength(value) > MAX_ENV_VALUE_BYTES) return `The value of '${name}' is longer than ${MAX_ENV_VALUE_BYTES} bytes.`;
  return null;
}

/** Size a variable takes in the environment block ("NAME=value\0"), in UTF-8 bytes. */
export function envEntryBytes(name: string, value: string): number {
  return byteLength(name) + byteLength(value) + 2;
}

function byteLength(s: string): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) n += 1;
    else if (c < 0x800) n += 2;
    else if (c >= 0xd800 && c <= 0xdbff) {
      n += 4;
      i++;
    } else n += 3;
  }
  return n;
}
