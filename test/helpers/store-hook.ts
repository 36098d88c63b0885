import type { Store } from '../../src/store/store.js';
import type { TestGantry } from './gantry.js';

/**
 * Makes one order of two concurrent calls certain: `g`'s control plane gets a store that runs `hook` (once)
 * before its `method` runs, every other method as `real` has it. Returns what puts `real` back.
 */
export function hookStoreOnce(g: TestGantry, real: Store, method: keyof Store, hook: () => Promise<void>): () => void {
  let pending: (() => Promise<void>) | null = hook;
  const ctx = g.control.ctx as { store: Store };
  ctx.store = new Proxy({} as Store, {
    get: (_, k) => {
      const v = Reflect.get(real, k) as unknown;
      if (typeof v !== 'function') return v;
      const fn = (v as (...a: unknown[]) => Promise<unknown>).bind(real);
      if (k !== method) return fn;
      return async (...a: unknown[]) => {
        const h = pending;
        pending = null;
        if (h !== null) await h();
        return fn(...a);
      };
    },
  });
  return () => {
    ctx.store = real;
  };
}
