import { decideDead, isNewFailure, NO_FAILURES, OUTPUT_LINES, type DeadDecision } from '../../domain/serverless/dead.js';
import type { ControlContext } from '../context.js';
import { reachHost, tailWithin } from '../reach-host.js';
import { actOnWorker, type WorkerInfo } from './workers.js';
import type { EndpointRecord } from '../../domain/serverless/records.js';
import type { InstanceRecord } from '../../domain/instance/instance.js';

/** Whether a worker belongs to the workergroup the endpoint now recruits for (a rollout's old workers do not). */
export type CurrentWorker = (w: WorkerInfo) => boolean;

/**
 * The last lines a worker printed, read from its host; null when the host is away or slow (the exit
 * code still tells). The read goes through the agent's command queue, so it gets the agent's own
 * bound, cut to a third of the endpoint's lease: the pass holds the lease while it waits.
 */
async function outputTail(ctx: ControlContext, inst: InstanceRecord): Promise<string | null> {
  const host = await reachHost(ctx, inst.machineId).catch(() => undefined);
  return tailWithin(host, inst.id, OUTPUT_LINES, Math.min(ctx.settings.agentCallTimeoutMs, ctx.settings.leaseMs / 3));
}

/**
 * An instance's status message without its host runtime's notice (the process runtime's "image is
 * recorded but not pulled"), which says nothing of why a worker failed and would crowd out its
 * exit and output in a status message AI Core cuts at 256 characters.
 */
function failureMsg(ctx: ControlContext, inst: InstanceRecord): string | null {
  const notice = ctx.hosts.get(inst.machineId)?.imageNotice ?? null;
  const msg = inst.statusMsg;
  if (msg === null || notice === null || !msg.startsWith(notice)) return msg;
  const rest = msg.slice(notice.length).replace(/^;\s*/, '');
  return rest === '' ? null : rest;
}

/**
 * Count the endpoint's failed workers (the output of each is read once, while its disk still exists:
 * the autoscaler destroys failed workers in the same pass) and decide whether the endpoint is dead.
 * The count is the endpoint's scale memory's `failures`; the caller writes it back with the pass.
 */
export async function watchWorkerFailures(
  ctx: ControlContext,
  ep: EndpointRecord,
  workers: readonly WorkerInfo[],
  current: CurrentWorker,
): Promise<DeadDecision> {
  const failures = ep.memory.failures ?? NO_FAILURES;
  const facts = await Promise.all(
    workers.map(async (w) => {
      const i = w.instance;
      const notReady = w.notReady !== null;
      const output = current(w) && isNewFailure(failures, { id: i.id, target: i.target, status: i.status, notReady }) ? await outputTail(ctx, i) : null;
      return {
        id: i.id,
        current: current(w),
        ready: w.phase === 'ready',
        target: i.target,
        status: i.status,
        exitCode: i.exitCode,
        statusMsg: w.notReady ?? failureMsg(ctx, i),
        output,
        notReady,
        offline: w.offline,
      };
    }),
  );
  return decideDead({ failures, workers: facts, limit: ctx.settings.workerFailuresBeforeDead });
}

/**
 * A dead endpoint holds (status failed, target running) until the user starts it again, stops or
 * deletes it: its current workers are destroyed (none became ready; they only cost) and none is
 * recruited. Workers of an older workergroup are left to whoever rolls them over.
 */
export async function holdDeadEndpoint(ctx: ControlContext, ep: EndpointRecord, workers: readonly WorkerInfo[], current: CurrentWorker): Promise<void> {
  let destroyed = 0;
  for (const w of workers) {
    if (!current(w) || w.instance.target === 'deleted') continue;
    if (await actOnWorker(ctx, ep, w.instance.id, 'destroy')) destroyed++;
  }
  if (destroyed > 0) ctx.traffic.invalidate(ep.id);
}
