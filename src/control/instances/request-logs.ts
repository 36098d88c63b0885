import { GantryError } from '../../domain/errors.js';
import type { ControlContext } from '../context.js';
import { callViaAgentReplica, type HostCallOps } from '../host-calls.js';
import { newToken } from '../keys.js';
import { agentElsewhere, hostFailure } from '../reach-host.js';
import { authorizeInstance, type Principal } from '../principal.js';

export const DEFAULT_LOG_TAIL = 1000;
export const MAX_LOG_TAIL = 100_000;

/**
 * Capture the instance's stdout/stderr now and keep it behind an unguessable, short-lived token;
 * the client fetches it without auth, as Vast's clients do with their result URLs.
 */
export async function requestLogs(
  ctx: ControlContext,
  p: Principal,
  id: number,
  o: { tail: number | null; filter: string | null },
): Promise<{ token: string }> {
  const inst = authorizeInstance(p, await ctx.store.getInstance(id), id, 'instance.read');
  const tail = o.tail ?? DEFAULT_LOG_TAIL;
  if (!Number.isInteger(tail) || tail < 0 || tail > MAX_LOG_TAIL)
    throw new GantryError('INVALID_ARGUMENT', `tail must be an integer from 0 to ${MAX_LOG_TAIL}.`, { field: 'tail' });
  const args: LogArgs = { instanceId: id, tail, filter: o.filter };
  const host = ctx.hosts.get(inst.machineId);
  if (host) {
    const token = newToken();
    const text = await readLogs(host, args).catch((err: unknown) => Promise.reject(hostFailure(err, inst.machineId)));
    await ctx.store.putResult(token, text, ctx.clock.now() + ctx.settings.resultTtlMs);
    await ownResult(ctx, p, token);
    return { token };
  }
  // Its agent may talk to another replica on the same database: that one reads the logs and keeps them
  // as the result (host-calls.ts), instead of sending them here to be stored again.
  if (!(await agentElsewhere(ctx, inst.machineId)))
    throw new GantryError('HOST_UNAVAILABLE', `The host of instance ${id} is not connected; logs cannot be read now.`, { machineId: inst.machineId });
  const { token } = await callViaAgentReplica(ctx, inst.machineId, 'logs', args, ctx.settings.agentCallTimeoutMs + 1_000);
  await ownResult(ctx, p, token);
  return { token };
}

/**
 * The result is the caller's account's, which keeps its newest maxResultsPerAccount alive: each holds up to a
 * megabyte for resultTtlMs, and a script asking for logs at the instances' rate kept gigabytes.
 */
export async function ownResult(ctx: ControlContext, p: Principal, token: string): Promise<void> {
  await ctx.store.ownResult(token, p.accountId, ctx.settings.maxResultsPerAccount);
}

interface LogArgs {
  readonly instanceId: number;
  readonly tail: number;
  readonly filter: string | null;
}

/** An instance's output from its host: the filter applied before the tail, like `grep | tail`. */
async function readLogs(host: { logs(id: number, tail: number): Promise<string> }, a: LogArgs): Promise<string> {
  let text = await host.logs(a.instanceId, a.filter === null || a.filter === '' ? a.tail : MAX_LOG_TAIL);
  if (a.filter !== null && a.filter !== '') {
    const f = a.filter;
    const lines = text.split('\n').filter((l) => l.includes(f));
    text = lines.slice(-a.tail).join('\n') + (lines.length > 0 ? '\n' : '');
  }
  return text;
}

/** The host calls of this file another replica can ask for (`host-calls.ts`): arguments as requestLogs wrote them. */
export const LOG_HOST_CALLS: HostCallOps = {
  logs: {
    // The answer is the logs' result URL itself.
    keep: 'result',
    run: (host, args, machineId) => {
      const a = args as Partial<LogArgs> | null;
      if (typeof a?.instanceId !== 'number' || typeof a.tail !== 'number') return Promise.reject(new Error('malformed logs call'));
      return readLogs(host, { instanceId: a.instanceId, tail: a.tail, filter: typeof a.filter === 'string' ? a.filter : null }).catch((err: unknown) =>
        Promise.reject(hostFailure(err, machineId)),
      );
    },
  },
};

export async function fetchResult(ctx: ControlContext, token: string): Promise<string> {
  // A token with a dot names a replica's answer to another (host-calls.ts), never a result URL.
  const content = token.includes('.') ? undefined : await ctx.store.getResult(token, ctx.clock.now());
  if (content === undefined) throw new GantryError('RESULT_NOT_FOUND', 'This result URL is unknown or has expired; request the logs again.');
  return content;
}
