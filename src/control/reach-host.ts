import { GantryError } from '../domain/errors.js';
import type { ControlContext } from './context.js';
import { callViaAgentReplica, type HostCallOps } from './host-calls.js';
import type { HostLink } from './hosts/hosts.js';

const METHOD_NAMES = ['logs', 'logLines', 'storage', 'exec', 'copy', 'copyGrant', 'cancelCopies'] as const;
type Method = (typeof METHOD_NAMES)[number];
const METHODS: ReadonlySet<string> = new Set(METHOD_NAMES);

/** The calls on a host that any replica can make, whichever replica its agent talks to; `viaReplica`: through another one. */
export type ReachedHost = Pick<Required<HostLink>, Method> & { readonly viaReplica: boolean };

/**
 * The host of a machine, for reads and commands that go to it at once (logs, `execute`, copies, volumes,
 * snapshots): this replica's link to its agent when it holds one; on PostgreSQL, when the machine is online
 * through another replica, calls through that replica (host-calls.ts), each bounded as the agent bounds it
 * plus `agentCallTimeoutMs`; else undefined (the host is not connected). A method the host cannot run
 * answers why (NO_SSH_ACCESS for commands and copies).
 */
export async function reachHost(ctx: ControlContext, machineId: number): Promise<ReachedHost | undefined> {
  const local = ctx.hosts.get(machineId);
  const h = local !== undefined ? withRefusals(local, machineId) : (await agentElsewhere(ctx, machineId)) ? throughReplica(ctx, machineId) : undefined;
  return h === undefined ? undefined : hostFailuresTyped(h, machineId);
}

/**
 * What a host reports as its own failure (its container engine down, a file it could not read) arrives as a
 * plain error: a caller is answered 503 HOST_RUNTIME_FAILED with the host's words, not 500 as if Gantry failed.
 */
export function hostFailure(err: unknown, machineId: number): Error {
  if (err instanceof GantryError) return err;
  const said = err instanceof Error ? err.message : String(err);
  return new GantryError('HOST_RUNTIME_FAILED', `The host of machine ${machineId} reported: ${said.slice(0, 500)}`, { machineId }, { cause: err });
}

function hostFailuresTyped(h: ReachedHost, machineId: number): ReachedHost {
  const typed =
    <A extends unknown[], R>(f: (...a: A) => Promise<R>) =>
    (...a: A): Promise<R> =>
      f(...a).catch((err: unknown) => Promise.reject(hostFailure(err, machineId)));
  return {
    viaReplica: h.viaReplica,
    logs: typed(h.logs),
    logLines: typed(h.logLines),
    storage: typed(h.storage),
    exec: typed(h.exec),
    // A copy's end is written to the destination's status_msg, never answered: its words stay the host's own
    // (COPY_CANCELLED is matched on them), as the replica that runs a copy for another writes them (COPY_CALL).
    copy: h.copy,
    copyGrant: typed(h.copyGrant),
    cancelCopies: typed(h.cancelCopies),
  };
}

/** Whether the machine's agent, not connected here, is online through another replica on the same database. */
export async function agentElsewhere(ctx: ControlContext, machineId: number): Promise<boolean> {
  // One SQLite server is the only replica: every session it has is its own.
  if (ctx.store.name !== 'postgres') return false;
  return (await ctx.store.getMachine(machineId, ctx.clock.now()))?.online === true;
}

/** reachHost for many workloads in one answer: each machine looked up once. */
export function hostsReached(ctx: ControlContext): (machineId: number) => Promise<ReachedHost | undefined> {
  const seen = new Map<number, Promise<ReachedHost | undefined>>();
  return (machineId) => {
    let h = seen.get(machineId);
    if (h === undefined) seen.set(machineId, (h = reachHost(ctx, machineId)));
    return h;
  };
}

/**
 * The last `lines` an instance printed, best effort: null when its host is away, errs, or is slower than
 * `ms` (a listing or a pass that holds a lease does not wait on it).
 */
export async function tailWithin(host: ReachedHost | undefined, instanceId: number, lines: number, ms: number): Promise<string | null> {
  if (host === undefined) return null;
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<null>((resolve) => {
    timer = setTimeout(() => resolve(null), ms);
  });
  try {
    return await Promise.race([host.logs(instanceId, lines), late]);
  } catch {
    return null;
  } finally {
    clearTimeout(timer);
  }
}

function cannot(machineId: number, what: string, code: 'NO_SSH_ACCESS' | 'HOST_UNAVAILABLE' = 'NO_SSH_ACCESS'): GantryError {
  return new GantryError(code, `The host of machine ${machineId} cannot ${what}.`, { machineId });
}

/** A local link whose optional calls refuse with the reason when the host has none. */
function withRefusals(h: HostLink, machineId: number): ReachedHost {
  return {
    viaReplica: false,
    logs: (id, tail) => h.logs(id, tail),
    logLines: (id, q) => h.logLines(id, q),
    storage: (cmd) => (h.storage === undefined ? Promise.reject(cannot(machineId, 'keep volumes or snapshots', 'HOST_UNAVAILABLE')) : h.storage(cmd)),
    exec: (id, argv, o) => (h.exec === undefined ? Promise.reject(cannot(machineId, 'run commands in its instances')) : h.exec(id, argv, o)),
    copy: (order) => (h.copy === undefined ? Promise.reject(cannot(machineId, 'copy between instances')) : h.copy(order)),
    copyGrant: (id, ttl) => (h.copyGrant === undefined ? Promise.reject(cannot(machineId, 'copy between instances')) : h.copyGrant(id, ttl)),
    cancelCopies: (id) => (h.cancelCopies === undefined ? Promise.resolve(0) : h.cancelCopies(id)),
  };
}

/** The same calls, each run by the replica that holds the agent's session, answered as JSON. */
function throughReplica(ctx: ControlContext, machineId: number): ReachedHost {
  const s = ctx.settings;
  const call = async <T>(method: Method, args: unknown[], onHostMs: number): Promise<T> => {
    // The agent's session bounds the call at onHostMs + agentCallTimeoutMs; a second more for the answer's way back.
    const { answer } = await callViaAgentReplica(ctx, machineId, 'link', { method, args }, onHostMs + s.agentCallTimeoutMs + 1_000);
    return JSON.parse(answer) as T;
  };
  return {
    viaReplica: true,
    logs: (id, tail) => call('logs', [id, tail], 0),
    logLines: (id, q) => call('logLines', [id, q], 0),
    storage: (cmd) => call('storage', [cmd], s.stepTimeoutMs),
    exec: (id, argv, o) => call('exec', [id, argv, o], o.timeoutMs),
    copy: (order) => call('copy', [order], order.timeoutMs),
    copyGrant: (id, ttl) => call('copyGrant', [id, ttl], 0),
    cancelCopies: (id) => call('cancelCopies', [id], 0),
  };
}

/**
 * The `link` host call: a ReachedHost method run on the local link for another replica. Arguments are
 * another replica's, trusted as the database is; the agent checks what it is asked as for any call.
 */
export const LINK_HOST_CALLS: HostCallOps = {
  link: {
    keep: 'call',
    run: async (host, raw, machineId) => {
      const { method, args } = (raw ?? {}) as { method?: unknown; args?: unknown };
      if (typeof method !== 'string' || !METHODS.has(method) || !Array.isArray(args)) throw new Error('malformed host call');
      const list: unknown[] = args;
      const reached = withRefusals(host, machineId) as unknown as Record<string, (...a: unknown[]) => Promise<unknown>>;
      // Typed here as for a local caller: a plain error is stored as a bare message, which the asking replica reads as HOST_UNAVAILABLE.
      const answer = await reached[method]!(...list).catch((err: unknown) => Promise.reject(hostFailure(err, machineId)));
      return JSON.stringify(answer ?? null);
    },
  },
};
