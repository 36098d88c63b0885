import type { EndpointStatus } from '../../src/domain/serverless/lifecycle.js';
import type { EndpointRecord } from '../../src/domain/serverless/records.js';
import type { Store } from '../../src/store/store.js';
import type { TestGantry } from './gantry.js';

/** One status change an intent or a pass wrote: `from` is the status the writer decided on (its generation held). */
export interface Transition {
  readonly endpointId: number;
  readonly from: EndpointStatus;
  readonly to: EndpointStatus;
  readonly by: 'intent' | 'pass';
}

/**
 * The endpoint lifecycle's edges (src/domain/serverless/lifecycle.ts, ../shared/design/lifecycle.md): what an
 * intent may write (decideEndpoint; Vast's delete stops first, Vast's stop cancels an unscheduled endpoint) and
 * what a pass may (workers ready or not, dead, a stop ending, a delete done).
 */
const LEGAL: Readonly<Record<'intent' | 'pass', Readonly<Partial<Record<EndpointStatus, readonly EndpointStatus[]>>>>> = {
  intent: {
    unknown: ['stopping', 'deleting'],
    pending: ['stopping', 'deleting'],
    running: ['stopping', 'deleting'],
    stopping: ['deleting'],
    stopped: ['pending', 'deleting'],
    failed: ['pending', 'stopping', 'deleting'],
  },
  pass: {
    unknown: ['pending', 'running', 'failed', 'stopped', 'deleted'],
    pending: ['running', 'failed'],
    running: ['pending', 'failed'],
    stopping: ['stopped', 'failed'],
    deleting: ['deleted'],
  },
};

export const illegal = (ts: readonly Transition[]): Transition[] => ts.filter((t) => t.from !== t.to && !(LEGAL[t.by][t.from] ?? []).includes(t.to));

/**
 * Records every endpoint status the control plane of `g` writes (intents and applied passes), by wrapping its store
 * as store-hook.ts does. Returns the list (it grows) and what puts the store back.
 */
export function recordTransitions(g: TestGantry): { readonly transitions: Transition[]; restore(): void } {
  const ctx = g.control.ctx as { store: Store };
  const real = ctx.store;
  const transitions: Transition[] = [];
  const claimed = new Map<string, EndpointRecord>();
  ctx.store = new Proxy({} as Store, {
    get: (_, k) => {
      const v = Reflect.get(real, k) as unknown;
      if (typeof v !== 'function') return v;
      const fn = (v as (...a: unknown[]) => Promise<unknown>).bind(real);
      if (k === 'claimEndpoints')
        return async (...a: unknown[]) => {
          const eps = (await fn(...a)) as EndpointRecord[];
          for (const ep of eps) claimed.set(`${ep.id}/${ep.leaseToken ?? ''}`, ep);
          return eps;
        };
      if (k === 'applyEndpointPass')
        return async (id: number, token: string, w: { status?: EndpointStatus }) => {
          const r = await fn(id, token, w);
          const from = claimed.get(`${id}/${token}`);
          claimed.delete(`${id}/${token}`);
          if (r === 'applied' && from !== undefined && w.status !== undefined)
            transitions.push({ endpointId: id, from: from.status, to: w.status, by: 'pass' });
          return r;
        };
      if (k === 'writeEndpointIntent')
        return async (id: number, generation: number, w: { status: EndpointStatus }) => {
          const before = await real.getEndpoint(id);
          const r = await fn(id, generation, w);
          if (r === true && before !== undefined && before.generation === generation)
            transitions.push({ endpointId: id, from: before.status, to: w.status, by: 'intent' });
          return r;
        };
      return fn;
    },
  });
  return {
    transitions,
    restore: () => {
      ctx.store = real;
    },
  };
}
