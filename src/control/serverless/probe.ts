import type { ControlContext } from '../context.js';
import { workersOf, type WorkerInfo } from './workers.js';
import type { EndpointRecord, WorkergroupRecord, WorkerReport } from '../../domain/serverless/records.js';

/** What probing needs: reading workers, this replica's gateway counts, and the report store. */
export type ProbeContext = Pick<ControlContext, 'store' | 'machines' | 'clock' | 'settings' | 'traffic' | 'log' | 'servingSince'>;

/** The shortest wait between two probes of a worker that started and does not answer yet. */
const PROBE_MIN_MS = 5;

/** Any HTTP answer, whatever its status, means a server listens: a model server may answer 404 on `/`. */
async function answers(url: string, timeoutMs: number): Promise<boolean> {
  try {
    const res = await fetch(`${url}/`, { method: 'GET', redirect: 'manual', signal: AbortSignal.timeout(timeoutMs) });
    await res.body?.cancel().catch(() => undefined);
    return true;
  } catch {
    return false;
  }
}

/**
 * Probe-ready workers (a workergroup's `readiness: 'http'`): a plain HTTP server that knows nothing of
 * Gantry is ready when its first port answers. The serverless loop calls this on every pass of an
 * endpoint, before it reads the workers, on the replica holding the endpoint's lease; it records the
 * report such a worker would send itself, so freshness, phases, routing and autoscaling work
 * unchanged:
 *
 * - answered: loaded, with this replica's count of requests in flight to it as num_requests_working
 *   and its share of the load the gateway sampled as cur_load (no benchmark: max_perf null);
 * - no answer after it was ready: not loaded (out of routing at once), with the time of its last
 *   answer kept, so a worker that stays silent goes stale and becomes an error the autoscaler replaces;
 * - no answer yet: nothing recorded (it is still loading, like a reporting worker before its first report).
 *
 * Reports are refreshed every pass (autoscaleIntervalMs), well inside workerReportStaleMs.
 *
 * Returns when the next pass should probe again (Infinity: the periodic pass is soon enough): a
 * worker that started but does not answer yet is probed again after half the time it has been
 * running (at least PROBE_MIN_MS), so one that listens within tens of milliseconds takes requests
 * about as soon, without probing a slow loader often.
 */
export async function probeHttpWorkers(ctx: ProbeContext, ep: EndpointRecord, groups: readonly WorkergroupRecord[]): Promise<number> {
  const http = new Set(groups.filter((g) => g.template.readiness === 'http').map((g) => g.id));
  if (http.size === 0) return Infinity;
  const probed = (await workersOf(ctx, ep.id)).filter(
    (w): w is WorkerInfo & { url: string } =>
      w.instance.workergroupId !== null &&
      http.has(w.instance.workergroupId) &&
      w.instance.target === 'running' &&
      w.instance.status === 'running' &&
      w.url !== null,
  );
  if (probed.length === 0) return Infinity;
  const timeoutMs = ctx.settings.workerProbeTimeoutMs;
  const [prev, answered] = await Promise.all([
    ctx.store.workerReports(probed.map((w) => w.instance.id)),
    Promise.all(probed.map((w) => answers(w.url, timeoutMs))),
  ]);
  const now = ctx.clock.now();
  const inFlight = ctx.traffic.workerLoad(ep.id);
  const listening = answered.filter(Boolean).length;
  const share = listening === 0 ? 0 : latestLoad(ctx, ep.id, now) / listening;
  let changed = false;
  let again = Infinity;
  for (const [i, w] of probed.entries()) {
    const id = w.instance.id;
    const before = prev.get(id);
    const thisLife = before !== undefined && before.reportedAt >= w.instance.statusChangedAt;
    const runningMs = now - w.instance.statusChangedAt;
    if (answered[i] !== true && !thisLife && runningMs < ctx.settings.workerReadyTimeoutMs) {
      again = Math.min(again, now + Math.min(Math.max(PROBE_MIN_MS, runningMs / 2), ctx.settings.autoscaleIntervalMs));
    }
    let report: WorkerReport | null = null;
    if (answered[i] === true) {
      report = {
        instanceId: id,
        curLoad: share,
        // A probe says nothing of where the worker reads its key: what its own reports said stays.
        keyed: before?.keyed ?? false,
        maxPerf: null,
        curPerf: share,
        numRequestsWorking: inFlight.get(id)?.inFlight ?? 0,
        loaded: true,
        errorMsg: null,
        reportedAt: now,
      };
    } else if (thisLife && before.loaded) {
      report = { ...before, loaded: false, numRequestsWorking: 0, curLoad: 0, curPerf: 0 };
      ctx.log.warn({ endpointId: ep.id, instanceId: id, url: w.url }, 'probe-ready worker stopped answering');
    }
    if (report === null) continue;
    if (report.loaded !== (thisLife && before.loaded)) changed = true;
    await ctx.store.recordWorkerReport(report);
  }
  if (changed) ctx.traffic.invalidate(ep.id);
  if (changed) ctx.store.changes.publish('gateway', ep.id); // other replicas' gateways may hold requests for it
  return again;
}

/** The load (cost units per second) this replica's gateway received in the latest whole second sampled. */
function latestLoad(ctx: ProbeContext, endpointId: number, now: number): number {
  const last = ctx.traffic.loadSamples(endpointId).at(-1);
  // A sample older than the pass before this one is load that has stopped.
  return last !== undefined && now - last.at <= 2_000 + ctx.settings.autoscaleIntervalMs ? last.load : 0;
}
