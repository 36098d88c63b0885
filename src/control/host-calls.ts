import { GantryError } from '../domain/errors.js';
import type { ControlContext } from './context.js';
import type { HostLink } from './hosts/hosts.js';
import { newToken } from './keys.js';

/** What a replica that holds a host's session can run for another: an op's name → its work, answered as text. */
export type HostCallOps = Readonly<Record<string, (host: HostLink, args: unknown) => Promise<string>>>;

/** The error answer of a call is kept beside its result, under this suffix of its token. */
const FAILED = '.failed';

/**
 * Run `op` on the replica whose session holds the machine's agent, from any replica sharing the
 * database: the call is written to the store and announced on the change feed (`host-call`); that
 * replica takes it, runs it and stores the answer as a result under the call's token, which this one
 * waits for (at most agentCallTimeoutMs). Resolves with the token; the answer is `getResult(token)`.
 * HOST_UNAVAILABLE when no replica answered in time, or with the reason the host gave.
 */
export async function callViaAgentReplica(ctx: ControlContext, machineId: number, op: string, args: unknown): Promise<string> {
  const bound = ctx.settings.agentCallTimeoutMs;
  const token = newToken();
  const deadline = ctx.clock.now() + bound;
  await ctx.store.requestHostCall({ token, machineId, op, args: JSON.stringify(args), expiresAt: deadline });
  ctx.store.changes.publish('host-call', machineId);
  for (let wait = 5; ; wait = Math.min(wait * 2, 100)) {
    const now = ctx.clock.now();
    if ((await ctx.store.getResult(token, now)) !== undefined) return token;
    const failed = await ctx.store.getResult(token + FAILED, now);
    if (failed !== undefined) throw new GantryError('HOST_UNAVAILABLE', failed, { machineId });
    if (now >= deadline) {
      throw new GantryError('HOST_UNAVAILABLE', `The host of machine ${machineId} did not answer through the replica its agent talks to within ${bound} ms.`, {
        machineId,
      });
    }
    await new Promise((r) => setTimeout(r, wait));
  }
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
    const run = Object.hasOwn(ops, c.op) ? ops[c.op] : undefined;
    try {
      if (host === undefined) throw new Error(`the agent of machine ${c.machineId} left this replica`);
      if (run === undefined) throw new Error(`this replica does not know the host call '${c.op}'`);
      const text = await run(host, JSON.parse(c.args) as unknown);
      await ctx.store.putResult(c.token, text, ctx.clock.now() + ctx.settings.resultTtlMs);
    } catch (err) {
      await ctx.store.putResult(c.token + FAILED, err instanceof Error ? err.message : String(err), c.expiresAt);
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
