import { planReconcile, type Observation, type ReconcileInput } from '../../domain/instance/reconcile.js';
import type { SweptLook } from './host-sweep.js';

/** Every request carried out and no step to take: what the observation says is all a look would do. */
const plainLook = (row: ReconcileInput, obs: Observation): boolean => row.generation === row.observedGeneration && planReconcile(row, obs).step === 'none';

/** A look the sweep handed over, or (look null) a plain hint that came since: something changed, look again. */
interface Seen {
  readonly look: SweptLook | null;
  readonly at: number;
}

/**
 * What the host sweep saw of the instances it handed over (decision 017), kept until the per-instance path
 * looks at them: that look records from the sweep's observation instead of sending an `inspect` of its own
 * (a round trip to the host per instance, the whole cost of a pass that finds many exits). It does so only
 * when the observation can stand for a fresh look:
 * - it is younger than `observationMaxAgeMs`, and no plain hint (an exit the agent reported, an intent
 *   written) came after it was taken: the hint means the workload or the request changed since;
 * - the claimed row is still the one the sweep compared (same generation and status, no request pending):
 *   a row another look or an intent changed meanwhile lost the race and is inspected;
 * - the look would take no step: a step acts on the host, so it starts from what the host says now.
 * Each look is used once: the next look at the row inspects unless a later sweep hands it over again.
 */
export class SweptLooks {
  readonly #seen = new Map<number, Seen>();

  /** The sweep handed `id` over with what it saw; an older look never replaces a later hint. */
  handOver(id: number, look: SweptLook): void {
    const cur = this.#seen.get(id);
    if (cur !== undefined && cur.at > look.at) return;
    this.#seen.set(id, { look, at: look.at });
  }

  /** A hint without an observation (`wake(id)`): the next look at `id` inspects. */
  hinted(id: number, now: number): void {
    this.#seen.set(id, { look: null, at: now });
  }

  /** The observation the look at `inst` may record from, or null to inspect; what was kept for it is used up. */
  take(inst: ReconcileInput & { readonly id: number }, now: number, maxAgeMs: number): Observation | null {
    const seen = this.#seen.get(inst.id);
    if (seen === undefined) return null;
    this.#seen.delete(inst.id);
    const look = seen.look;
    if (look === null || !this.fresh(inst.id, now, maxAgeMs, look)) return null;
    const r = look.row;
    if (r.generation !== inst.generation || r.status !== inst.status || r.observedGeneration !== inst.observedGeneration) return null;
    return plainLook(inst, look.observation) ? look.observation : null;
  }

  /** True when `id` has a look that can stand for one now: young enough, and for the row as the sweep read it nothing to do but record. */
  fresh(id: number, now: number, maxAgeMs: number, look = this.#seen.get(id)?.look): boolean {
    return look !== undefined && look !== null && now - look.at < maxAgeMs && plainLook(look.row, look.observation);
  }

  /** Up to `limit` of `ids` with a fresh look. */
  ready(ids: Iterable<number>, now: number, maxAgeMs: number, limit: number): number[] {
    const out: number[] = [];
    for (const id of ids) {
      if (out.length >= limit) break;
      if (this.fresh(id, now, maxAgeMs)) out.push(id);
    }
    return out;
  }

  /** Ids the claims gave up on (destroyed meanwhile, another replica's): nothing is kept for them. */
  forget(ids: Iterable<number>): void {
    for (const id of ids) this.#seen.delete(id);
  }
}
