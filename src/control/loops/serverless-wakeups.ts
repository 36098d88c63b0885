import type { ControlContext } from '../context.js';

/**
 * What asks the serverless loop for a pass besides its tick and its own retries: an intent or a
 * deadline on this replica (EndpointSignal), an intent written at another replica, and a new status
 * of a worker the last pass saw — a stop that waits for its workers ends as soon as the reconciler
 * recorded the last one stopped, not at the next look.
 */
export class ServerlessWakeups {
  /** Worker instance id → its endpoint, as the last pass of that endpoint saw them. */
  readonly #endpointOf = new Map<number, number>();
  readonly #workersOf = new Map<number, readonly number[]>();
  readonly #unsubscribe: readonly (() => void)[];

  constructor(ctx: Pick<ControlContext, 'store' | 'clock' | 'endpointSignal'>, passAt: (at: number) => void) {
    const passNow = (): void => passAt(ctx.clock.now());
    this.#unsubscribe = [
      ctx.endpointSignal.onPassDue((at) => passAt(at ?? ctx.clock.now())),
      ctx.store.changes.subscribe('endpoint', passNow),
      // A gateway read a stop and published what it holds: a drain's closing may end now.
      ctx.store.changes.subscribe('gateway', passNow),
      ctx.store.changes.subscribe('instance-status', (c) => {
        if (c.id === null || this.#endpointOf.has(c.id)) passNow();
      }),
    ];
  }

  /** A worker the pass just recruited: its start (and readiness probes) ask for the next pass too. */
  recruited(endpointId: number, instanceId: number): void {
    this.#endpointOf.set(instanceId, endpointId);
    this.#workersOf.set(endpointId, [...(this.#workersOf.get(endpointId) ?? []), instanceId]);
  }

  /** The workers a pass of the endpoint saw: a change of their status asks for the next pass. */
  saw(endpointId: number, workers: readonly { readonly instance: { readonly id: number } }[]): void {
    const workerIds = workers.map((w) => w.instance.id);
    for (const id of this.#workersOf.get(endpointId) ?? []) this.#endpointOf.delete(id);
    for (const id of workerIds) this.#endpointOf.set(id, endpointId);
    if (workerIds.length > 0) this.#workersOf.set(endpointId, workerIds);
    else this.#workersOf.delete(endpointId);
  }

  close(): void {
    for (const u of this.#unsubscribe) u();
    this.#endpointOf.clear();
    this.#workersOf.clear();
  }
}
