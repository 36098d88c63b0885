import type { ControlContext } from '../context.js';
import * as verbs from './host-verbs.js';

type Bound<F> = F extends (ctx: ControlContext, ...args: infer A) => infer R ? (...args: A) => R : never;
type HostVerbs = typeof verbs;

/** The host verbs of `host-verbs.ts` bound to one context. */
export type HostUseCases = { readonly [K in keyof HostVerbs as HostVerbs[K] extends (...a: never[]) => unknown ? K : never]: Bound<HostVerbs[K]> };

export function hostUseCases(ctx: ControlContext): HostUseCases {
  const out: Record<string, unknown> = {};
  for (const [k, f] of Object.entries(verbs)) if (typeof f === 'function') out[k] = (...a: unknown[]) => (f as (...x: unknown[]) => unknown)(ctx, ...a);
  return out as HostUseCases;
}
