import type { Heartbeat, Hello, Results, SessionMessage } from '../../control/hosts/agent-hub.js';
import { GantryError } from '../../domain/errors.js';
import { isMachineIsolation } from '../../domain/machine/machine.js';

/**
 * Strict readers for agent messages: exact types (no string → number coercion), bounded sizes, unknown
 * fields dropped. A message that fails is refused with INVALID_ARGUMENT naming the field, before anything runs.
 */
type Check<T> = (v: unknown, path: string) => T;

const fail = (path: string, what: string): never => {
  throw new GantryError('INVALID_ARGUMENT', `${path} must be ${what}.`, { field: path });
};
const int =
  (min: number, max: number): Check<number> =>
  (v, p) =>
    typeof v === 'number' && Number.isSafeInteger(v) && v >= min && v <= max ? v : fail(p, `an integer in [${min}, ${max}]`);
const num =
  (min: number, max: number): Check<number> =>
  (v, p) =>
    typeof v === 'number' && Number.isFinite(v) && v >= min && v <= max ? v : fail(p, `a number in [${min}, ${max}]`);
const str =
  (max: number): Check<string> =>
  (v, p) =>
    typeof v === 'string' && v.length > 0 && v.length <= max ? v : fail(p, `a non-empty string of at most ${max} characters`);
/**
 * Control characters (C0, DEL, C1) and the bidirectional overrides: in a host's description they would
 * reach other people's terminals and tables (`search offers` draws them), where they clear the screen,
 * forge rows or reorder text. Refused in what the host says of itself; replaced by a space in what it
 * passes on from workloads (progress, errors), which a renter's own output may have written.
 */
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/;
const CONTROLS = new RegExp(CONTROL.source, 'g');
const text =
  (max: number): Check<string> =>
  (v, p) =>
    CONTROL.test(str(max)(v, p)) ? fail(p, 'text without control characters') : (v as string);
const shown =
  (max: number): Check<string> =>
  (v, p) =>
    str(max)(v, p).replace(CONTROLS, ' ');
const bool: Check<boolean> = (v, p) => (typeof v === 'boolean' ? v : fail(p, 'true or false'));
const nullable =
  <T>(c: Check<T>): Check<T | null> =>
  (v, p) =>
    v === null || v === undefined ? null : c(v, p);
const arr =
  <T>(c: Check<T>, max: number): Check<T[]> =>
  (v, p) => {
    if (!Array.isArray(v) || v.length > max) return fail(p, `a list of at most ${max} items`);
    return v.map((x, i) => c(x, `${p}[${i}]`));
  };
const obj =
  <S extends Record<string, Check<unknown>>>(shape: S): Check<{ [K in keyof S]: ReturnType<S[K]> }> =>
  (v, p) => {
    if (typeof v !== 'object' || v === null || Array.isArray(v)) return fail(p, 'an object');
    const out: Record<string, unknown> = {};
    for (const [k, c] of Object.entries(shape)) out[k] = c((v as Record<string, unknown>)[k], p === '' ? k : `${p}.${k}`);
    return out as { [K in keyof S]: ReturnType<S[K]> };
  };

/** Ids are the store's, which PostgreSQL keeps in 32 bits (and the host sweep keys a machine's and an instance's together on that bound). */
const ID = int(1, 2 ** 31 - 1);
const SEQ = int(1, Number.MAX_SAFE_INTEGER);
const session = { machineId: ID, session: str(100) };

const machine = obj({
  hostname: text(255),
  gpuName: text(100),
  numGpus: int(0, 64),
  gpuRamMb: int(0, 10_000_000),
  gpuDeclared: bool,
  computeCap: nullable(num(0, 10_000)),
  cpuName: text(255),
  cpuArch: text(32),
  cpuCores: int(1, 100_000),
  cpuRamMb: int(0, 1e12),
  diskSpaceGb: int(0, 1e9),
  driverVersion: nullable(text(64)),
  cudaMaxGood: nullable(num(0, 1000)),
  publicIp: text(255),
  inetUpMbps: num(0, 1e7),
  inetDownMbps: num(0, 1e7),
  osVersion: text(255),
  portRangeStart: int(1, 65535),
  portRangeEnd: int(1, 65535),
  runtime: (v, p) => (v === 'process' || v === 'docker' ? v : fail(p, '"process" or "docker"')),
  // Optional: an agent from before the sandbox says nothing, and its host counts as shared.
  isolation: (v, p) => (v === undefined ? undefined : isMachineIsolation(v) ? v : fail(p, '"sandboxed", "shared" or "unsafe-shared"')),
});

/**
 * A deleted machine's row keeps its host key as `deleted:<id>:<key>`: a key of that form is never a host's own
 * (one planted first would make that machine's delete fail on the unique key).
 */
const hostKey: Check<string> = (v, p) => (str(200)(v, p).startsWith('deleted:') ? fail(p, "a key not starting with 'deleted:'") : (v as string));
export const readHello: Check<Hello> = obj({ hostKey, imageNotice: nullable(shown(500)), machine });

/** One workload of a pushed listing, as an observing `list` answers it; exit codes stay absent when absent. */
const code = (v: unknown, p: string): number | null | undefined =>
  v === undefined || v === null ? v : int(-Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER)(v, p);
const listed: Check<Record<string, unknown>> = (v, p) => {
  const e = obj({ id: ID, state: (x, q) => (x === 'running' || x === 'exited' || x === 'absent' ? x : fail(q, '"running", "exited" or "absent"')) })(v, p);
  const r = v as Record<string, unknown>;
  const exitCode = code(r.exitCode, `${p}.exitCode`);
  const onstartExitCode = code(r.onstartExitCode, `${p}.onstartExitCode`);
  return { ...e, ...(exitCode !== undefined && { exitCode }), ...(onstartExitCode !== undefined && { onstartExitCode }) };
};
const usage = obj({ instanceId: ID, cpuUtil: num(0, 1e6), memUsageMb: num(0, 1e12), diskUsageMb: num(0, 1e15) });
export const readHeartbeat: Check<Heartbeat> = obj({
  ...session,
  seq: SEQ,
  gpuUtils: nullable(arr(num(0, 100), 64)),
  usage: arr(usage, 10_000),
  exited: arr(ID, 10_000),
  progress: (v, p) => (v === undefined ? [] : arr(obj({ instanceId: ID, message: shown(500) }), 1000)(v, p)),
  busyPorts: (v, p) => (v === undefined ? undefined : arr(int(1, 65535), 65535)(v, p)),
  listing: (v, p) => (v === undefined ? undefined : arr(listed, 10_000)(v, p)),
});

export const readPoll: Check<SessionMessage & { waitMs: number }> = obj({ ...session, waitMs: int(0, 600_000) });

const result = obj({
  id: str(64),
  ok: bool,
  value: (v) => v,
  error: nullable(shown(10_000)),
  code: nullable(text(64)),
});
export const readResults: Check<Results> = (v, p) => {
  const r = obj({ ...session, seq: SEQ, results: arr(result, 1000) })(v, p);
  return {
    ...r,
    results: r.results.map((x) => ({
      id: x.id,
      ok: x.ok,
      value: x.value,
      ...(x.error !== null && { error: x.error }),
      ...(x.code !== null && { code: x.code }),
    })),
  };
};
