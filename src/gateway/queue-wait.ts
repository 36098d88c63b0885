import type { GantryError } from '../domain/errors.js';
import type { Abort } from './abort.js';
import { callerLeft, closed, queueTimeout, type Assignment, type EndpointTraffic, type Waiter } from './endpoint-traffic.js';

/**
 * A request's place at the end of the endpoint's queue, until a worker takes it (traffic.ts hands it one) or
 * it leaves the queue with none: the queue's timeout or its `deadline` passed (counted as timed out, and as
 * refused while the endpoint stops), or its caller left (`gone`: CALLER_LEFT, counted as neither). `left`
 * runs after it left the queue.
 */
export function waitInQueue(
  t: EndpointTraffic,
  endpointId: number,
  w: { readonly cost: number; readonly since: number; readonly timeoutMs: number; readonly deadline?: AbortSignal; readonly gone?: Abort },
  left: () => void,
): Promise<Assignment> {
  const { deadline, gone } = w;
  return new Promise<Assignment>((resolve, reject) => {
    const out = (e: GantryError, timedOut: boolean): void => {
      clearTimeout(waiter.timer);
      unlisten();
      const i = t.queue.indexOf(waiter);
      if (i >= 0) t.queue.splice(i, 1);
      if (timedOut && closed(t)) t.refused++;
      if (timedOut) t.tally.timedOut();
      reject(e);
      left();
    };
    const onDeadline = (): void => out(deadline?.reason as GantryError, true);
    const onGone = (): void => out(callerLeft(endpointId), false);
    deadline?.addEventListener('abort', onDeadline, { once: true });
    gone?.once('abort', onGone);
    const unlisten = (): void => {
      deadline?.removeEventListener('abort', onDeadline);
      gone?.removeListener('abort', onGone);
    };
    const timer = setTimeout(() => out(queueTimeout(endpointId, w.timeoutMs), true), w.timeoutMs);
    const waiter: Waiter = { cost: w.cost, since: w.since, resolve, reject, timer, unlisten };
    t.queue.push(waiter);
  });
}
