import type { EndpointRecord } from '../../domain/serverless/records.js';
import type { EndpointPassWrite } from '../../store/serverless-store.js';
import type { ControlContext } from '../context.js';

/**
 * Tells the console (the `endpoint-status` change) when what it shows of an endpoint moved at a pass:
 * status, message, stop phase, or the requests this replica holds (a scale decision tells it itself).
 * Only a change is told, so an idle endpoint costs nothing and a busy one at most one per pass.
 */
export class ShownChanges {
  readonly #last = new Map<number, string>();

  pass(ctx: ControlContext, ep: EndpointRecord, pass: Omit<EndpointPassWrite, 'now' | 'generation'>): void {
    const held = ctx.traffic.pending(ep.id);
    const stop = pass.stop === undefined ? ep.stopPhase : pass.stop.phase;
    const shown = [pass.status ?? ep.status, pass.statusMsg ?? ep.statusMsg, stop, held.queued, held.inFlight].join('|');
    if (pass.status === 'deleted') this.#last.delete(ep.id);
    else if (this.#last.get(ep.id) === shown) return;
    else this.#last.set(ep.id, shown);
    ctx.store.changes.publish('endpoint-status', ep.id);
  }

  /** An endpoint this replica no longer passes over (deleted, or claimed elsewhere). */
  forget(endpointId: number): void {
    this.#last.delete(endpointId);
  }
}
