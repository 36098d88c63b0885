import { GantryError } from '../../domain/errors.js';
import type { ControlContext } from '../context.js';
import { newToken } from '../keys.js';
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
  const host = ctx.hosts.get(inst.machineId);
  if (!host) throw new GantryError('HOST_UNAVAILABLE', `The host of instance ${id} is not connected; logs cannot be read now.`, { machineId: inst.machineId });
  // The filter is applied before the tail, like `grep | tail`.
  let text = await host.logs(id, o.filter === null || o.filter === '' ? tail : MAX_LOG_TAIL);
  if (o.filter !== null && o.filter !== '') {
    const f = o.filter;
    const lines = text.split('\n').filter((l) => l.includes(f));
    text = lines.slice(-tail).join('\n') + (lines.length > 0 ? '\n' : '');
  }
  const token = newToken();
  const now = ctx.clock.now();
  await ctx.store.putResult(token, text, now + ctx.settings.resultTtlMs);
  return { token };
}

export async function fetchResult(ctx: ControlContext, token: string): Promise<string> {
  const content = await ctx.store.getResult(token, ctx.clock.now());
  if (content === undefined) throw new GantryError('RESULT_NOT_FOUND', 'This result URL is unknown or has expired; request the logs again.');
  return content;
}
