import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { ControlPlane } from '../../../control/control-plane.js';
import { GantryError } from '../../../domain/errors.js';
import type { GpuMarketRow, MarketFilter } from '../../../domain/machine/market.js';
import { showValue } from '../../../domain/show.js';
import { principal } from '../../edge/principal.js';
import { vastMachine } from './map.js';
import { asObject, jsonParam, optNumber, parseId } from './parse.js';

type Req = FastifyRequest<{ Params: Record<string, string>; Querystring: Record<string, unknown> }>;

/** A list of machine ids: a JSON list (Vast's query form), one id, or absent (none). */
function idList(v: unknown, field: string): number[] {
  const parsed = jsonParam(v);
  if (parsed === undefined || parsed === null || parsed === '') return [];
  const list = Array.isArray(parsed) ? parsed : [parsed];
  return list.map((x) => parseId(x, `${field} entry`));
}

function marketFilter(q: Record<string, unknown>): MarketFilter {
  const verified = q.verified ?? 'all';
  if (verified !== 'yes' && verified !== 'no' && verified !== 'all')
    throw new GantryError('INVALID_ARGUMENT', `'verified' must be yes, no or all, got ${showValue(verified)}.`, { field: 'verified' });
  const n = q.num_gpus ?? 'all';
  return { verified, numGpus: n === 'all' ? null : parseId(n, 'num_gpus') };
}

/** Gantry's hosts are all self-hosted: none is a Vast "secure cloud" datacenter. */
const datacenterOnly = (q: Record<string, unknown>): boolean => q.hosting_type === 'secure_cloud';

/** Vast's history shape for one GPU model, with the current snapshot as its one point (Gantry keeps no market history). */
function historyOf(row: GpuMarketRow, nowS: number): Record<string, unknown> {
  const one = <T>(v: T): T[] => [v];
  return {
    supply_demand: {
      timestamps: one(nowS),
      rented_verified: one(row.rented_verified),
      avail_verified: one(row.avail_verified),
      rented_unverified: one(row.rented_unverified),
      avail_unverified: one(row.avail_unverified),
      total: one(row.total),
    },
    // Listing prices; what renters of rented GPUs pay is their instances' own price, not a market figure.
    pricing: {
      rented_p10: one(null),
      rented_median: one(null),
      rented_p90: one(null),
      avail_p10: one(row.price_p10),
      avail_median: one(row.price_median),
      avail_p90: one(row.price_p90),
    },
    stats: { dlperf: row.dlperf, tflops: row.tflops, tflops_per_dollar: row.tflops_per_dollar },
  };
}

/**
 * The Vast host verbs beyond listing (README, "Using the official Vast.ai CLI and SDK"): one machine,
 * maintenances, reports, defrag, delete, default jobs, market metrics, benchmarks, overlays and price
 * increases. Refusals come from the engine with the reason in `msg`.
 */
export function vastHostRoutes(app: FastifyInstance, control: ControlPlane): void {
  const hosts = control.hosts;
  const nowS = (): number => control.now() / 1000;

  app.get('/api/v0/machines/maintenances', async (req: Req) => {
    const rows = await hosts.listMaintenances(principal(req), idList(req.query.machine_ids, 'machine_ids'));
    return rows.map((w) => ({
      machine_id: w.machineId,
      start_time: w.start / 1000,
      end_time: w.end / 1000,
      duration_hours: Math.round(((w.end - w.start) / 3_600_000) * 100) / 100,
      maintenance_category: w.reason,
    }));
  });

  // Vast answers a list even for one machine.
  app.get('/api/v0/machines/:id', async (req: Req) => [vastMachine(await hosts.showOwnMachine(principal(req), parseId(req.params.id, 'machine id')))]);

  app.get('/api/v0/machines/:id/reports', async (req: Req) => hosts.machineReports(principal(req), parseId(req.params.id, 'machine id')));

  app.put('/api/v0/machines/defrag_offers', async (req) => {
    const r = await hosts.defragMachines(principal(req), idList(asObject(req.body).machine_ids, 'machine_ids'));
    return {
      success: true,
      msg: "nothing to move: Gantry's offers count a machine's free GPUs, not their positions, so they already form its largest offer",
      machines: r.map((m) => ({ machine_id: m.machineId, num_gpus: m.numGpus, rented_gpus: m.rentedGpus, moved: m.moved })),
    };
  });

  // The official CLI prints "deleted machine_id (ID) and all related contracts." on success: true.
  app.post('/api/v0/machines/:id/force_delete', async (req: Req) => {
    const r = await hosts.deleteMachine(principal(req), parseId(req.params.id, 'machine id'));
    const ended = r.destroyedIds.length === 0 ? '' : `; your instances ${r.destroyedIds.join(', ')} were destroyed with it`;
    const vols = r.volumeIds.length === 0 ? '' : `; your volumes ${r.volumeIds.join(', ')} were deleted with it`;
    return {
      success: true,
      msg: `deleted machine ${r.machineId}${ended}${vols}`,
      machine_id: r.machineId,
      destroyed_instances: r.destroyedIds,
      deleted_volumes: r.volumeIds,
    };
  });

  app.put('/api/v0/machines/create_bids', async (req) => {
    const machine = asObject(req.body).machine;
    return hosts.setDefaultJob(principal(req), machine === undefined || machine === null ? null : parseId(machine, 'machine id'));
  });
  app.delete('/api/v0/machines/:id/defjob', async (req: Req) => hosts.removeDefaultJob(principal(req), parseId(req.params.id, 'machine id')));

  // ── market metrics: Gantry's own fleet ─────────────────────────────
  app.get('/api/v0/metrics/gpu/current', async (req: Req) => {
    const gpus = await hosts.gpuMetrics(principal(req), marketFilter(req.query));
    if (gpus === null) return { success: true, gpus: [], needs_machine: true };
    return { success: true, gpus: datacenterOnly(req.query) ? [] : gpus };
  });
  app.get('/api/v0/metrics/gpu/history', async (req: Req) => {
    const rows = await hosts.gpuMetrics(principal(req), marketFilter(req.query));
    if (rows === null) return { success: true, gpus: {}, needs_machine: true };
    const names = typeof req.query.gpu_name === 'string' && req.query.gpu_name !== 'all' ? new Set(req.query.gpu_name.split(',').map((s) => s.trim())) : null;
    const picked = rows.filter((r) => (names === null || names.has(r.gpu_name)) && !datacenterOnly(req.query));
    return { success: true, gpus: Object.fromEntries(picked.map((r) => [r.gpu_name, historyOf(r, nowS())])) };
  });
  app.get('/api/v0/metrics/gpu/locations', async (req) => {
    const locations = await hosts.gpuLocationMetrics(principal(req));
    return locations === null ? { success: true, locations: [], needs_machine: true } : { success: true, locations };
  });

  app.get('/api/v0/benchmarks', async (req) => hosts.searchBenchmarks(principal(req)));

  // ── overlays: none exist, creating one is refused ──────────────────
  app.get('/api/v0/overlay', async (req) => hosts.overlayNetworks(principal(req), false));
  for (const method of ['post', 'put', 'delete'] as const) app[method]('/api/v0/overlay', async (req) => hosts.overlayNetworks(principal(req), true));

  // ── physical clusters: none exist, making one is refused ──────────
  app.get('/api/v0/clusters', async (req) => ({ success: true, clusters: Object.fromEntries(hosts.physicalClusters(principal(req), false)) }));
  for (const method of ['post', 'put', 'delete'] as const) app[method]('/api/v0/cluster', async (req) => hosts.physicalClusters(principal(req), true));
  app.delete('/api/v0/cluster/remove_machine', async (req) => hosts.physicalClusters(principal(req), true));

  // ── price increases: none are ever pending ─────────────────────────
  app.get('/api/v0/instances/pending-price-increases', async (req) => {
    const rows = await Promise.resolve(hosts.pendingPriceIncreases(principal(req)));
    return { success: true, count: rows.length, truncated: false, pending_price_increases: rows };
  });
  for (const verb of ['accept', 'reject'] as const) {
    app.put(`/api/v0/instances/${verb}-price-increase`, async (req) => {
      const id = optNumber(asObject(req.body), 'pending_price_increase_id');
      return hosts.answerPriceIncrease(principal(req), id);
    });
  }
}
