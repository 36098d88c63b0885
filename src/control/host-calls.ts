import { GantryError, isErrorCode, type ErrorCode } from '../domain/errors.js';
import type { ControlContext } from './context.js';
import type { HostLink } from './hosts/hosts.js';
import { newToken } from './keys.js';

/**
 * What a replica that holds a host's session can run for another: an op's name → its work, answered as
 * text. `keep`: `result` when a result URL serves the answer under the call's token (resultTtlMs), `call`
 * when only the asking replica reads it (taken by that read, never served).
 */
export type HostCallOps = Readonly<
  Record<string, { readonly run: (host: HostLink, args: unknown, machineId: number) => Promise<string>; readonly keep: 'result' | 'call' }>
>;

/**
 * The answer to the asking replica and the failure, beside the call's token. A token with a dot is
 * never a result URL's (`fetchResult`), so neither is served.
 */
const ANSWER = '.answer';
const FAILED = '.failed';
/** How long an answer waits for its asker past the call's bound (the asker reads it at once). */
const ANSWER_KEPT_MS = 5_000;
/** A lost notification of an answer costs at most this (the safety net under the change feed). */
const RECHECK_MS = 1_000;

/**
 * Run `op` on the replica whose session holds the machine's agent, from any replica sharing the
 * database: the call is written to the store and announced on the change feed (`host-call`); that
 * replica takes it, runs it, stores the answer and announces it (`host-answer`), and this one takes the
 * answer (at most `boundMs`: agentCallTimeoutMs unless the op takes longer on the host itself).
 * An error the host answered keeps its code (HOST_UNAVAILABLE when it had none); HOST_UNAVAILABLE when
 * no replica answered in time, and as soon as no replica took the call within agentCallTimeoutMs
 * (withdrawn then, so it never runs late): a long bound is waited out only for a call that runs.
 */
export async function callViaAgentReplica(
  ctx: ControlContext,
  machineId: number,
  op: string,
  args: unknown,
  boundMs = ctx.settings.agentCallTimeoutMs,
): Promise<{ token: string; answer: string }> {
  const token = newToken();
  const start = ctx.clock.now();
  const deadline = start + boundMs;
  let takeBy = start + Math.min(boundMs, ctx.settings.agentCallTimeoutMs);
  let woken = false;
  let wake = (): void => undefined;
  const unsubscribe = ctx.store.changes.subscribe('host-answer', (c) => {
    if (c.id !== null && c.id !== machineId) return;
    woken = true;
    wake();
  });
  try {
    await ctx.store.requestHostCall({ token, machineId, op, args: JSON.stringify(args), expiresAt: deadline });
    ctx.store.changes.publish('host-call', machineId);
    for (;;) {
      woken = false;
      const now = ctx.clock.now();
      const got = await ctx.store.takeResult([token + ANSWER, token + FAILED], now);
      if (got?.token.endsWith(FAILED) === true) throw answeredError(got.content, machineId);
      if (got !== undefined) return { token, answer: got.content };
      if (now >= takeBy) {
        if (await ctx.store.withdrawHostCall(token)) throw late(machineId, takeBy - start);
        takeBy = Infinity; // taken: its answer comes within the bound
      }
      if (now >= deadline) throw late(machineId, boundMs);
      if (woken) continue;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.max(1, Math.min(RECHECK_MS, Math.min(takeBy, deadline) - now)));
        wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      wake = () => undefined;
    }
  } finally {
    unsubscribe();
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
 * took is withdrawn by its caller.
 */
export function followHostCalls(ctx: ControlContext, ops: HostCallOps): () => void {
  const fail = (err: unknown): void => ctx.log.warn({ err }, 'answering host calls of other replicas failed');
  const answer = async (c: { token: string; machineId: number; op: string; args: string; expiresAt: number }): Promise<void> => {
    const host = ctx.hosts.get(c.machineId);
    const op = Object.hasOwn(ops, c.op) ? ops[c.op] : undefined;
    let text: string;
    let keep: 'result' | 'call';
    try {
      if (host === undefined) throw new Error(`the agent of machine ${c.machineId} left this replica`);
      if (op === undefined) throw new Error(`this replica does not know the host call '${c.op}'`);
      keep = op.keep;
      text = await op.run(host, JSON.parse(c.args) as unknown, c.machineId);
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      const failure = err instanceof GantryError ? JSON.stringify({ code: err.code, message, details: err.details }) : message;
      await ctx.store.putResult(c.token + FAILED, failure, Math.max(c.expiresAt, ctx.clock.now() + ANSWER_KEPT_MS));
      ctx.store.changes.publish('host-answer', c.machineId);
      return;
    }
    const now = ctx.clock.now();
    if (keep === 'result') await ctx.store.putResult(c.token, text, now + ctx.settings.resultTtlMs);
    await ctx.store.putResult(c.token + ANSWER, keep === 'result' ? '' : text, Math.max(c.expiresAt, now + ANSWER_KEPT_MS));
    ctx.store.changes.publish('host-answer', c.machineId);
  };
  const serve = async (machineIds: number[]): Promise<void> => {
    for (const c of await ctx.store.takeHostCalls(machineIds, ctx.clock.now())) void answer(c).catch(fail);
  };
  return ctx.store.changes.subscribe('host-call', (c) => {
    const ids = c.id === null ? ctx.hosts.machineIds() : ctx.hosts.get(c.id) !== undefined ? [c.id] : [];
    if (ids.length > 0) void serve(ids).catch(fail);
  });
}
