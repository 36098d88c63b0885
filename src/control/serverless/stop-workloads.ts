import { setTimeout as sleep } from 'node:timers/promises';
import { GantryError } from '../../domain/errors.js';
import type { InstanceRecord } from '../../domain/instance/instance.js';
import { waitsForHeld } from '../../domain/serverless/lifecycle.js';
import type { EndpointRecord } from '../../domain/serverless/records.js';
import type { ControlContext } from '../context.js';
import { authorizeAdmin, type Principal } from '../principal.js';
import { MAX_AWAIT_MS } from './await-endpoint.js';
import { changeOwnedEndpoint } from './change-endpoint.js';
import { changeInstance } from '../instances/change-instance.js';

/** Shown in each instance's status_msg while it stops and after. */
const REASON = 'stopped by an admin with every workload of this server';

/** One endpoint (a deployment's too) or instance, as the stop left it. */
export interface WorkloadStop {
  readonly kind: 'endpoint' | 'instance';
  readonly id: number;
  readonly accountId: number;
  /** The endpoint's name, or the instance's label. */
  readonly name: string | null;
  readonly status: string;
  /** At rest: an endpoint stopped (its workers confirmed stopped), an instance stopped as its runtime confirmed. */
  readonly stopped: boolean;
  /** Why it is not stopped: the stop was refused, ended failed (STOP_FAILED), or was still under way at the bound (STOP_TIMEOUT). */
  readonly error: GantryError | null;
}

export interface WorkloadsStopped {
  /** Endpoints first, then instances, each by id. */
  readonly items: readonly WorkloadStop[];
  /** Every item stopped: nothing of this server runs any more. */
  readonly complete: boolean;
}

const keyOf = (kind: WorkloadStop['kind'], id: number): string => `${kind}:${id}`;

/**
 * Stop every workload of this server, of every account, through the normal stops, and wait (at most
 * `timeoutMs`) until each is at rest: what `gantry down --workloads` asks before it stops the server.
 * Endpoints (and so deployments) stop first, as a Vast stop does: their target becomes stopped, so
 * the serverless loop recruits no new worker, and their stop drains and stops their workers itself.
 * Instances then stop as `stop instance` does (configuration kept, recorded stopped only once the
 * runtime confirms); a worker waits for its endpoint's stop, and is stopped directly only once that
 * stop ended (a stop that failed is tried again, as a user's second stop would). Each stop is asked
 * once per call; calling again asks again what ended failed, and is otherwise idempotent.
 */
export async function stopWorkloads(ctx: ControlContext, p: Principal, o: { readonly timeoutMs: number }): Promise<WorkloadsStopped> {
  // instance.manage, not instance.change: an instance's own key (even of an admin's instance) may stop only its instance.
  authorizeAdmin(p, 'instance.manage');
  if (!Number.isFinite(o.timeoutMs) || o.timeoutMs < 0 || o.timeoutMs > MAX_AWAIT_MS)
    throw new GantryError('INVALID_ARGUMENT', `'timeout' must be between 0 and ${MAX_AWAIT_MS / 1000} seconds.`, { field: 'timeout' });
  const until = ctx.clock.now() + o.timeoutMs;
  const asked = new Set<string>();
  const refused = new Map<string, GantryError>();
  const ask = async (key: string, write: () => Promise<{ readonly changed: boolean }>): Promise<boolean> => {
    asked.add(key);
    try {
      return (await write()).changed;
    } catch (err) {
      if (!(err instanceof GantryError)) throw err;
      refused.set(key, err);
      return false;
    }
  };
  const poll = Math.max(10, Math.min(ctx.settings.observeIntervalMs, ctx.settings.endpointWaitPollMs));
  const bounded = new Set<number>();
  for (;;) {
    const endpoints = await ctx.store.listEndpoints(null);
    let wrote = false;
    for (const ep of endpoints) {
      const key = keyOf('endpoint', ep.id);
      // A drain under way (someone's finish_pending_work) is bounded to end in time for this call, its workers' grace
      // after it: the harder stop (decision 027), once; it never lengthens one already shorter. Not when this call's
      // time cannot cover even the workers' stop: its requests would be failed for a call that ends "not stopped"
      // anyway. Not an ask of this call's own: a stop that fails after it is still stopped again below, and a refusal
      // (the endpoint deleted meanwhile) is no failure to stop it.
      if (!bounded.has(ep.id) && ep.target === 'stopped' && waitsForHeld(ep)) {
        bounded.add(ep.id);
        const workersMs = ctx.settings.stopGraceMs + ctx.settings.killWaitMs + ctx.settings.observeIntervalMs;
        const timeoutMs = until - ctx.clock.now() - workersMs;
        if (timeoutMs > 0) {
          const stop = { finishPendingWork: false, force: true, timeoutMs };
          const r = await changeOwnedEndpoint(ctx, p, ep.id, 'stop', { stop }).catch((err: unknown) => {
            if (err instanceof GantryError) return null;
            throw err;
          });
          wrote = r?.changed === true || wrote;
        }
        continue;
      }
      if (asked.has(key) || !endpointNeedsStop(ep)) continue;
      // force: every endpoint stops, so one routed to by an alias need not wait for the alias.
      const stop = { finishPendingWork: false, force: true, timeoutMs: null };
      wrote = (await ask(key, () => changeOwnedEndpoint(ctx, p, ep.id, 'stop', { stop, stopUnscheduled: true }))) || wrote;
    }
    // Instances are looked at with endpoints read after their stops were written, so no worker's endpoint is stale.
    if (wrote) continue;
    const byId = new Map(endpoints.map((ep) => [ep.id, ep]));
    const heldBy = (inst: InstanceRecord): EndpointRecord | null => {
      const ep = inst.endpointId === null ? undefined : byId.get(inst.endpointId);
      return ep !== undefined && ep.status !== 'stopped' && ep.status !== 'failed' ? ep : null;
    };
    let instances = await ctx.store.listInstances({ accountId: null });
    for (const inst of instances) {
      const key = keyOf('instance', inst.id);
      if (asked.has(key) || !instanceNeedsStop(inst) || heldBy(inst) !== null) continue;
      wrote = (await ask(key, () => changeInstance(ctx, p, inst.id, 'stop', REASON))) || wrote;
    }
    if (wrote) instances = await ctx.store.listInstances({ accountId: null });
    const timedOut = ctx.clock.now() >= until;
    const items = [
      ...endpoints.map((ep) => endpointItem(ep, refused.get(keyOf('endpoint', ep.id)) ?? null, timedOut)),
      ...instances.map((inst) => instanceItem(inst, refused.get(keyOf('instance', inst.id)) ?? null, heldBy(inst), refused, timedOut)),
    ];
    // An item is settled once stopped or with an error; while any is still under way, wait (bounded).
    if (timedOut || items.every((i) => i.stopped || i.error !== null)) {
      const complete = items.every((i) => i.stopped);
      ctx.log.info({ endpoints: endpoints.length, instances: instances.length, complete, timedOut }, 'stop every workload');
      return { items, complete };
    }
    await sleep(Math.min(poll, Math.max(0, until - ctx.clock.now())));
  }
}

/** Not stopped nor stopping, and not being deleted (its workers are being destroyed already). */
function endpointNeedsStop(ep: EndpointRecord): boolean {
  if (ep.target === 'deleted' || ep.status === 'deleting') return false;
  return ep.target !== 'stopped' || ep.status === 'failed';
}

function instanceNeedsStop(inst: InstanceRecord): boolean {
  if (inst.target === 'deleted') return false; // being destroyed: waited for until it is gone
  return inst.target !== 'stopped' || inst.status === 'failed';
}

function endpointItem(ep: EndpointRecord, refusal: GantryError | null, timedOut: boolean): WorkloadStop {
  const base = { kind: 'endpoint' as const, id: ep.id, accountId: ep.accountId, name: ep.name, status: ep.status };
  if (ep.status === 'stopped') return { ...base, stopped: true, error: null };
  if (refusal !== null) return { ...base, stopped: false, error: refusal };
  if (ep.target === 'stopped' && ep.status === 'failed')
    return { ...base, stopped: false, error: new GantryError('STOP_FAILED', `Endpoint ${ep.id} did not stop: ${ep.statusMsg ?? 'a worker did not stop'}.`) };
  return { ...base, stopped: false, error: timedOut ? underWay('Endpoint', ep.id, ep.statusMsg ?? ep.status) : null };
}

function instanceItem(
  inst: InstanceRecord,
  refusal: GantryError | null,
  heldBy: EndpointRecord | null,
  refused: ReadonlyMap<string, GantryError>,
  timedOut: boolean,
): WorkloadStop {
  const base = { kind: 'instance' as const, id: inst.id, accountId: inst.accountId, name: inst.label, status: inst.status };
  // Recorded by the reconciler after the last intent was carried out: the runtime's word, not ours.
  const settled = inst.target === 'stopped' && inst.observedGeneration === inst.generation;
  if (settled && (inst.status === 'stopped' || inst.status === 'exited')) return { ...base, stopped: true, error: null };
  if (refusal !== null) return { ...base, stopped: false, error: refusal };
  if (heldBy !== null && refused.has(keyOf('endpoint', heldBy.id)))
    return {
      ...base,
      stopped: false,
      error: new GantryError('STOP_FAILED', `Instance ${inst.id} works for endpoint ${heldBy.id}, which could not be stopped; it was left to it.`),
    };
  if (settled && inst.status === 'failed')
    return {
      ...base,
      stopped: false,
      error: new GantryError('STOP_FAILED', `Instance ${inst.id} did not stop: ${inst.statusMsg ?? 'its processes still run'}.`),
    };
  return { ...base, stopped: false, error: timedOut ? underWay('Instance', inst.id, inst.statusMsg ?? inst.status) : null };
}

function underWay(what: string, id: number, state: string): GantryError {
  return new GantryError('STOP_TIMEOUT', `${what} ${id} was not stopped within the bound (${state}); its stop goes on.`);
}
