import type { ScaleDecision } from '../../domain/serverless/autoscale.js';
import { SCALE_DECISIONS_KEPT } from '../../domain/serverless/scale-decision.js';
import type { EndpointRecord } from '../../domain/serverless/records.js';
import type { ControlContext } from '../context.js';

/** What a pass did with a decision: the workers it acted on, and why what it asked for was not done. */
export interface ScaleActs {
  readonly stopped: number;
  readonly destroyed: number;
  /** New workers asked for this pass. */
  readonly created: number;
  readonly refused: string | null;
}

/**
 * Keeps the autoscaler's decisions that changed something or were refused (the console shows them
 * with their reasons). A refusal repeated pass after pass (a recruit backing off) is kept once, until
 * something else happens, so the few kept rows stay telling. Losing one (the store failed) fails no pass.
 */
export class ScaleDecisionLog {
  readonly #ctx: ControlContext;
  readonly #lastRefusal = new Map<number, string>();

  constructor(ctx: ControlContext) {
    this.#ctx = ctx;
  }

  async record(ep: EndpointRecord, d: ScaleDecision, a: ScaleActs): Promise<void> {
    const changed = d.start.length + a.stopped + a.destroyed + a.created > 0;
    if (!changed && (a.refused === null || this.#lastRefusal.get(ep.id) === a.refused)) return;
    if (a.refused !== null) this.#lastRefusal.set(ep.id, a.refused);
    else this.#lastRefusal.delete(ep.id);
    const ctx = this.#ctx;
    const row = {
      endpointId: ep.id,
      at: ctx.clock.now(),
      activeTarget: d.activeTarget,
      totalTarget: d.totalTarget,
      started: d.start.length,
      created: a.refused === null ? a.created : 0,
      stopped: a.stopped,
      destroyed: a.destroyed,
      reason: d.reason,
      refused: a.refused,
    };
    try {
      await ctx.store.recordScaleDecision(row, SCALE_DECISIONS_KEPT);
      ctx.store.changes.publish('endpoint-status', ep.id); // the console shows decisions live
    } catch (err) {
      ctx.log.warn({ err, endpointId: ep.id }, 'scale decision not recorded');
    }
  }

  forget(endpointId: number): void {
    this.#lastRefusal.delete(endpointId);
  }
}
