import { GantryError } from '../../domain/errors.js';
import type { InstanceAction } from '../../domain/instance/intent.js';
import { notReadyReason, workerPhase, type WorkerPhase } from '../../domain/serverless/workers.js';
import { changeInstance } from '../instances/change-instance.js';
import type { ControlContext } from '../context.js';
import { isWorkerToken } from '../keys.js';
import { systemPrincipal, type Principal } from '../principal.js';
import type { EndpointRecord, WorkerReport } from '../../domain/serverless/records.js';
import type { InstanceRecord } from '../../domain/instance/instance.js';
import { HOST_OFFLINE } from '../../domain/instance/observed-record.js';
import { runsBootstrap } from './code-worker.js';

/** A worker as the API shows it and the autoscaler and gateway see it. */
export interface WorkerInfo {
  readonly instance: InstanceRecord;
  readonly phase: WorkerPhase;
  /** Where requests go: the host's address and the worker's first published port. */
  readonly url: string | null;
  /** Its last report, if recent enough to count. */
  readonly report: WorkerReport | null;
  /** Why it is in error, as far as the engine knows. */
  readonly errorMsg: string | null;
  /** Running but never to become ready (its command exited, or past workerReadyTimeoutMs): a failed worker. */
  readonly notReady: string | null;
  /** The GPU model of its machine ('CPU' on a machine without GPUs); null when the machine is unknown. */
  readonly gpuName: string | null;
  /** Its host went offline (instance `unknown`) less than workerOfflineGraceMs ago: waited for, not replaced yet. */
  readonly offline: boolean;
}

/** The engine acts on workers on behalf of the endpoint's owner, with the owner's rights. */
export function ownerOf(ep: Pick<EndpointRecord, 'accountId'>): Principal {
  return systemPrincipal(ep.accountId, 'serverless');
}

/** What reading workers needs: the store, the machine list, the clock, the staleness bound and since when this replica serves. */
export type WorkerReadContext = Pick<ControlContext, 'store' | 'machines' | 'clock' | 'settings' | 'servingSince'>;

export async function workersOf(ctx: WorkerReadContext, endpointId: number): Promise<WorkerInfo[]> {
  const rows = await ctx.store.listWorkers(endpointId);
  const reports = await ctx.store.workerReports(rows.map((r) => r.id));
  const machines = new Map((await ctx.machines.list()).map((m) => [m.id, m]));
  const now = ctx.clock.now();
  const staleMs = ctx.settings.workerReportStaleMs;
  // For workerReportStaleMs after this replica began to serve (or its database was last unavailable), a report
  // counts if it was fresh when the endpoint's newest report made before then was made: while no control plane
  // ran, or none could store a report, healthy workers stopped reporting together, and taking them for silent (or
  // for never ready) would destroy every ready worker at the first pass. One silent well before the others still
  // is. Reports made since serving began do not move that mark: the first worker to report again would otherwise
  // make all its siblings, whose turn had not come yet, read as silent.
  let fresh = now - staleMs;
  const since = ctx.servingSince();
  if (fresh < since) {
    let newest = -Infinity;
    for (const r of reports.values()) if (r.reportedAt < since) newest = Math.max(newest, r.reportedAt);
    fresh = Math.min(fresh, newest - staleMs);
  }
  return rows.map((instance) => {
    const r = reports.get(instance.id);
    // A report made before the worker last started describes an earlier life: its "loaded" no longer holds.
    const thisLife = r !== undefined && r.reportedAt >= instance.statusChangedAt && instance.status === 'running';
    const report = thisLife && r.reportedAt >= fresh ? r : null;
    // A worker that reported and then fell silent while its instance runs has died or hung: an error, to be replaced.
    const silent = thisLife && report === null ? `no report from the worker for ${Math.round((now - r.reportedAt) / 1000)}s` : null;
    const port = instance.ports[0];
    const m = machines.get(instance.machineId);
    const stuck = notReadyReason({
      status: instance.status,
      statusMsg: instance.statusMsg,
      loaded: report?.loaded ?? false,
      runningForMs: now - instance.statusChangedAt,
      readyTimeoutMs: ctx.settings.workerReadyTimeoutMs,
      commandIsServer: runsBootstrap(instance),
    });
    const reported = report?.errorMsg !== undefined && report.errorMsg !== null && report.errorMsg !== '' ? report.errorMsg : null;
    const errorMsg = silent ?? reported ?? stuck;
    const offline =
      instance.status === 'unknown' &&
      (instance.statusMsg ?? '').startsWith(HOST_OFFLINE) &&
      now - instance.statusChangedAt < ctx.settings.workerOfflineGraceMs;
    return {
      instance,
      errorMsg,
      notReady: stuck,
      phase: workerPhase({ target: instance.target, status: instance.status, loaded: report?.loaded ?? false, errorMsg }),
      url: port !== undefined && m !== undefined ? `http://${m.publicIp}:${port.hostPort}` : null,
      report,
      gpuName: m === undefined ? null : m.numGpus === 0 ? 'CPU' : m.gpuName,
      offline,
    };
  });
}

/** Ask for a worker to start, stop or be destroyed; an idempotent repeat or a vanished worker is not an error. */
export async function actOnWorker(ctx: ControlContext, ep: EndpointRecord, instanceId: number, action: InstanceAction): Promise<boolean> {
  return (await actOnWorkerOutcome(ctx, ep, instanceId, action)) === 'changed';
}

/**
 * As actOnWorker, telling apart a start refused because the worker's GPUs are rented by someone else
 * now ('gpus_taken'): that worker cannot start where it is, so the caller recruits elsewhere.
 */
export async function actOnWorkerOutcome(
  ctx: ControlContext,
  ep: EndpointRecord,
  instanceId: number,
  action: InstanceAction,
): Promise<'changed' | 'unchanged' | 'gpus_taken'> {
  try {
    return (await changeInstance(ctx, ownerOf(ep), instanceId, action)).changed ? 'changed' : 'unchanged';
  } catch (err) {
    if (err instanceof GantryError && (err.code === 'INSTANCE_NOT_FOUND' || err.code === 'ILLEGAL_TRANSITION' || err.code === 'GPUS_UNAVAILABLE')) {
      ctx.log.info({ endpointId: ep.id, instanceId, action, code: err.code }, err.message);
      return err.code === 'GPUS_UNAVAILABLE' ? 'gpus_taken' : 'unchanged';
    }
    throw err;
  }
}

/**
 * A report as the worker sends it: the stored report, less what the engine fills in, plus its credentials. `via`:
 * the endpoint whose report address it came through (`/report/{ref}/…`), null for `/worker_status/` itself.
 */
export type WorkerStatusInput = Omit<WorkerReport, 'instanceId' | 'reportedAt' | 'keyed'> & {
  readonly id: number;
  readonly mtoken: string;
  readonly via: number | null;
};

/** The live worker instance a report comes from, proven by its MASTER_TOKEN, through its own endpoint's address if any. */
async function reportingWorker(ctx: ControlContext, id: number, mtoken: string, via: number | null): Promise<InstanceRecord & { readonly endpointId: number }> {
  const inst = await ctx.store.getInstance(id);
  if (!inst || inst.endpointId === null || inst.status === 'destroyed' || !isWorkerToken(ctx.secret, id, mtoken)) {
    throw new GantryError('UNAUTHENTICATED', 'Unknown worker or wrong mtoken: send the CONTAINER_ID and MASTER_TOKEN this worker was started with.');
  }
  // Reported through another endpoint's address, it would be signed for with a key it does not check with.
  if (via !== null && via !== inst.endpointId)
    throw new GantryError('FORBIDDEN', `Worker ${id} reports through another endpoint's address: use the REPORT_ADDR it was started with.`, { workerId: id });
  return { ...inst, endpointId: inst.endpointId };
}

/**
 * Vast's worker library tells REPORT_ADDR/delete_requests/ which requests it finished, for Vast's
 * request queue. Gantry's gateway sees the end of what it proxies itself; of what it handed out through
 * /route/ (the caller then calls the worker directly) this list is the end: those hand-outs stop counting
 * against the worker, and a drain waiting for them may end. Not kept beyond that; refused, the library
 * would resend it every second.
 */
export async function acknowledgeWorkerRequests(
  ctx: ControlContext,
  id: number,
  mtoken: string,
  requestIdxs: readonly string[],
  via: number | null = null,
): Promise<void> {
  const inst = await reportingWorker(ctx, id, mtoken, via);
  ctx.traffic.finished(inst.endpointId, id, requestIdxs);
}

/** A worker's own report (Vast's /worker_status/), authenticated by its MASTER_TOKEN. */
export async function recordWorkerStatus(ctx: ControlContext, s: WorkerStatusInput): Promise<void> {
  const inst = await reportingWorker(ctx, s.id, s.mtoken, s.via);
  const { curLoad, maxPerf, curPerf, numRequestsWorking, loaded, errorMsg } = s;
  const before = (await ctx.store.workerReports([s.id])).get(s.id);
  const keyed = s.via !== null;
  await ctx.store.recordWorkerReport({ instanceId: s.id, curLoad, maxPerf, curPerf, numRequestsWorking, loaded, errorMsg, reportedAt: ctx.clock.now(), keyed });
  ctx.traffic.invalidate(inst.endpointId);
  // Its last request done (a drain waiting for it may end), or it became ready or not (requests other
  // replicas hold may go to it now): told to every replica, not left to their next look.
  const sameLife = before !== undefined && before.reportedAt >= inst.statusChangedAt;
  const idleNow = numRequestsWorking === 0 && (before?.numRequestsWorking ?? 0) > 0;
  // A worker that now checks with another key (its first report through its endpoint's address) is signed for anew.
  if (idleNow || loaded !== (sameLife && before.loaded) || keyed !== before?.keyed) ctx.store.changes.publish('gateway', inst.endpointId);
}
