import { GantryError, isErrorCode, type ErrorCode } from '../domain/errors.js';
import type { ControlContext } from './context.js';
import type { HostLink } from './hosts/hosts.js';
import { newToken } from './keys.js';

/**
 * What a replica that holds a host's session can run for another: an op's name → its work, answered as
 * text. `keep`: how long the answer stays, `result` (a result URL serves it, resultTtlMs) or `call` (read
 * once by the asking replica, then gone with the call's bound).
 */
export type HostCallOps = Readonly<
  Record<string, { readonly run: (host: HostLink, args: unknown, machineId: number) => Promise<string>; readonly keep: 'result' | 'call' }>
>;

/** The error answer of a call is kept beside its result, under this suffix of its token. */
const FAILED = '.failed';

/**
 * Run `op` on the replica whose session holds the machine's agent, from any replica sharing the
 * database: the call is written to the store and announced on the change feed (`host-call`); that
 * replica takes it, runs it and stores the answer as a result under the call's token, which this one
 * waits for (at most `boundMs`, agentCallTimeoutMs unless the op takes longer on the host itself).
 * Resolves with the token; the answer is `getResult(token)`. An error the host answered keeps its code
 * (HOST_UNAVAILABLE when it had none); HOST_UNAVAILABLE when no replica answered in time, and as soon as
 * no replica took the call within agentCallTimeoutMs (withdrawn then, so it never runs late): a long
 * bound is waited out only for a call that runs.
 */
export async function callViaAgentReplica(
  ctx: ControlContext,
  machineId: number,
  op: string,
  args: unknown,
  boundMs = ctx.settings.agentCallTimeoutMs,
): Promise<string> {
  const token = newToken();
  const start = ctx.clock.now();
  const deadline = start + boundMs;
  let takeBy = start + Math.min(boundMs, ctx.settings.agentCallTimeoutMs);
  await ctx.store.requestHostCall({ token, machineId, op, args: JSON.stringify(args), expiresAt: deadline });
  ctx.store.changes.publish('host-call', machineId);
  // Quick calls are read back within milliseconds; a long one (a copy, a snapshot) is looked at once a second.
  for (let wait = 5; ; wait = Math.min(wait * 2, ctx.clock.now() - start > 5_000 ? 1_000 : 100)) {
    const now = ctx.clock.now();
    if ((await ctx.store.getResult(token, now)) !== undefined) return token;
    const failed = await ctx.store.getResult(token + FAILED, now);
    if (failed !== undefined) throw answeredError(failed, machineId);
    if (now >= takeBy) {
      if (await ctx.store.withdrawHostCall(token)) throw late(machineId, takeBy - start);
      takeBy = Infinity; // taken: its answer comes within the bound
    }
    if (now >= deadline) throw late(machineId, boundMs);
    await new Promise((r) => setTimeout(r, wait));
  }
}

function late(machineId: number, ms: number): GantryError {
  return new GantryError('HOST_UNAVAILABLE', `The host of machine ${machineId} did not answer through the replica its agent talks to within ${ms} ms.`, {
    machineId,
  });
}

/** A failure as stored by the answering replica: `{code, message, details}`, or a bare message (HOST_UNAVAILABLE). */
function answeredError(stored: string, machineId: number): GantryError {
  let code: ErrorCode = 'HOST_UNAVAILABLE';
  let message = stored;
  let details: Record<string, unknown> = { machineId };
  if (stored.startsWith('{')) {
    try {
      const o = JSON.parse(stored) as { code?: unknown; message?: unknown; details?: unknown };
      if (typeof o.code === 'string' && isErrorCode(o.code)) code = o.code;
      if (typeof o.message === 'string') message = o.message;
      if (typeof o.details === 'object' && o.details !== null) details = o.details as Record<string, unknown>;
    } catch {
      // not ours: the text is the message
    }
  }
  return new GantryError(code, message, details);
}

/**
 * Answer the calls other replicas write for the hosts whose sessions this replica holds. A notification
 * lost meanwhile (`id: null`, the feed reconnected) takes the calls of every such host; a call nobody
 * took expires with its bound, and its caller's wait ends with HOST_UNAVAILABLE.
 */
export function followHostCalls(ctx: ControlContext, ops: HostCallOps): () => void {
  const fail = (err: unknown): void => ctx.log.warn({ err }, 'answering host calls of other replicas failed');
  const answer = async (c: { token: string; machineId: number; op: string; args: string; expiresAt: number }): Promise<void> => {
    const host = ctx.hosts.get(c.machineId);
    const op = Object.hasOwn(ops, c.op) ? ops[c.op] : undefined;
    try {
      if (host === undefined) throw new Error(`the agent of machine ${c.machineId} left this replica`);
      if (op === undefined) throw new Error(`this replica does not know the host call '${c.op}'`);
      const text = await op.run(host, JSON.parse(c.args) as unknown, c.machineId);
      const now = ctx.clock.now();
      await ctx.store.putResult(c.token, text, op.keep === 'result' ? now + ctx.settings.resultTtlMs : Math.max(c.expiresAt, now + 1_000));
    } catch (err) {
      const failure =
        err instanceof GantryError
          ? JSON.stringify({ code: err.code, message: err.message, details: err.details })
          : err instanceof Error
            ? err.message
            : String(err);
      await ctx.store.putResult(c.token + FAILED, failure, c.expiresAt);
    }
  };
  const serve = async (machineIds: number[]): Promise<void> => {
    for (const c of await ctx.store.takeHostCalls(machineIds, ctx.clock.now())) void answer(c).catch(fail);
  };
  return ctx.store.changes.subscribe('host-call', (c) => {
    const ids = c.id === null ? ctx.hosts.machineIds() : ctx.hosts.get(c.id) !== undefined ? [c.id] : [];
    if (ids.length > 0) void serve(ids).catch(fail);
  });
}
