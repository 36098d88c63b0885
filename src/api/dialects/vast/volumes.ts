import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { ControlPlane } from '../../../control/control-plane.js';
import { GantryError } from '../../../domain/errors.js';
import { DEFAULT_VOLUME_GB, volumeName } from '../../../domain/volume/volume.js';
import { principal } from '../../edge/principal.js';
import { asObject, optBool, optEpochMs, optNumber, optString, parseId } from './parse.js';
import { applyVolumeQuery } from './volume-query.js';
import { vastVolumeOfferRow, vastVolumeRow } from './volume-map.js';

type Req = FastifyRequest<{ Params: Record<string, string>; Querystring: Record<string, unknown> }>;

/** Vast's end_date: epoch seconds (the clients convert dates before sending). */
function endDateMs(body: Record<string, unknown>): number | null {
  return optEpochMs(body, 'end_date');
}

/** `machine`: one id (`list volume`) or a list (`list volumes`). */
function machineIds(v: unknown): number[] {
  if (Array.isArray(v)) return v.map((x) => parseId(x, 'machine id'));
  return [parseId(v, 'machine id')];
}

/**
 * Volumes in the Vast dialect: hosts list and unlist volume offers, users search them, create, show, clone and
 * delete volumes (and link one at create instance: `volume_info`, parse.ts); `take snapshot`; `cleanup machine`.
 * Network volumes and disks answer a refusal that says why.
 */
export function vastVolumeRoutes(app: FastifyInstance, control: ControlPlane): void {
  const v = control.volumes;
  const now = (): number => control.now();

  // ── host: volume offers ──────────────────────────────────────────
  app.post('/api/v0/volumes', async (req) => {
    const p = principal(req);
    const body = asObject(req.body);
    const offers = await v.listVolumeOffers(p, machineIds(body.machine ?? body.machine_id), {
      sizeGb: optNumber(body, 'size') ?? DEFAULT_VOLUME_GB,
      priceDiskPerGbMonth: optNumber(body, 'price_disk'),
      endDate: endDateMs(body),
    });
    const what = offers.map((o) => `offer ${o.id} on machine ${o.machineId}: ${o.sizeGb} GB at $${o.priceDiskPerGbMonth}/GB/month`).join('; ');
    return { success: true, msg: `Listed volume space: ${what}.`, volume_offers: offers.map((o) => ({ id: o.id, machine_id: o.machineId, size: o.sizeGb })) };
  });

  app.post('/api/v0/volumes/unlist', async (req) => {
    const p = principal(req);
    const id = parseId(asObject(req.body).id, 'volume offer id');
    const o = await v.unlistVolumeOffer(p, id);
    return { success: true, msg: `Unlisted Volume ${id}: no new volumes on machine ${o.machineId}; ${o.usedGb} GB of volumes rented from it stay.` };
  });

  // ── users: volumes ───────────────────────────────────────────────
  app.post('/api/v0/volumes/search', async (req) => {
    const p = principal(req);
    const body = asObject(req.body);
    const allocated = optNumber(body, 'allocated_storage') ?? 1;
    const rows = (await v.searchVolumeOffers(p)).map((o) => vastVolumeOfferRow(o, allocated, now()));
    return { offers: applyVolumeQuery(rows, body) };
  });

  app.put('/api/v0/volumes', async (req) => {
    const p = principal(req);
    const body = asObject(req.body);
    const vol = await v.createVolume(p, {
      offerId: parseId(body.id, 'volume offer id'),
      sizeGb: optNumber(body, 'size') ?? DEFAULT_VOLUME_GB,
      name: optString(body, 'name'),
    });
    return { success: true, volume_name: volumeName(vol.id), volume_id: vol.id, machine_id: vol.machineId, size: vol.sizeGb };
  });

  app.get('/api/v0/volumes', async (req: Req) => {
    const p = principal(req);
    const type = typeof req.query.type === 'string' ? req.query.type : 'all_volume';
    if (!['all_volume', 'local_volume', 'network_volume', 'all'].includes(type))
      throw new GantryError('INVALID_ARGUMENT', `'type' must be local_volume, network_volume or all_volume, got ${JSON.stringify(type)}.`, { field: 'type' });
    // Every Gantry volume is local to its machine: a network listing is empty.
    const rows = type === 'network_volume' ? [] : (await v.listVolumes(p)).map((x) => vastVolumeRow(x, now()));
    return { volumes: rows };
  });

  app.delete('/api/v0/volumes', async (req: Req) => {
    const p = principal(req);
    const id = parseId(req.query.id ?? asObject(req.body).id, 'volume id');
    const r = await v.deleteVolume(p, id);
    const data = r.dataRemoved ? 'its data is removed' : "its data goes when its machine's host is reachable (cleanup machine)";
    return { success: true, msg: `Deleted volume ${id}; ${data}.` };
  });

  app.post('/api/v0/volumes/copy', async (req) => {
    const p = principal(req);
    const body = asObject(req.body);
    const vol = await v.cloneVolume(p, {
      sourceId: parseId(body.src_id, 'source volume id'),
      offerId: parseId(body.dst_id, 'volume offer id'),
      sizeGb: optNumber(body, 'size'),
    });
    return { success: true, volume_name: volumeName(vol.id), volume_id: vol.id, msg: `Cloned into volume ${vol.id} on machine ${vol.machineId}.` };
  });

  // ── snapshots and cleanup ────────────────────────────────────────
  app.post('/api/v0/instances/take_snapshot/:id', async (req: Req) => {
    const p = principal(req);
    const id = parseId(req.params.id);
    const body = asObject(req.body);
    const pause =
      body.pause === undefined || body.pause === null
        ? true
        : typeof body.pause === 'string'
          ? body.pause.toLowerCase() !== 'false'
          : optBool(body, 'pause') !== false;
    const registry = optString(body, 'container_registry');
    const s = await v.takeSnapshot(p, id, { repo: optString(body, 'personal_repo') ?? optString(body, 'repo'), registry, pause });
    const where =
      s.kind === 'image'
        ? `committed as image ${s.ref} in machine ${s.machineId}'s container engine (create an instance there with image ${s.ref})`
        : `archived as ${s.path} on machine ${s.machineId} (${String(s.sizeMb)} MB); a new instance of yours on that machine with image ${s.ref} starts with a copy of this disk`;
    return {
      success: true,
      msg: `Snapshot of instance ${id} ${where}. Not pushed to ${registry ?? 'a registry'}: Gantry does not reach registries; the snapshot stays on the machine.`,
      image: s.ref,
      kind: s.kind,
      machine_id: s.machineId,
      path: s.path,
      pushed: false,
    };
  });

  app.put('/api/v0/machines/:id/cleanup', async (req: Req) => {
    const p = principal(req);
    const r = await v.cleanupMachine(p, parseId(req.params.id, 'machine id'));
    return {
      success: true,
      ctime: now() / 1000,
      machine_id: r.machineId,
      user_id: r.ownerId,
      num_deleted: r.removedVolumes.length,
      freed_mb: r.freedMb,
      removed_volumes: r.removedVolumes,
      msg: `deleted ${r.removedVolumes.length} orphan volume folder(s) on machine ${r.machineId}, ${r.freedMb} MB freed; Gantry instances have no end date, so none expired.`,
    };
  });

  // ── network volumes and disks: refused, with the reason ───────────
  app.post('/api/v0/network_volumes/search', async (req) => v.refuseNetworkStorage(principal(req), 'search'));
  app.put('/api/v0/network_volumes', async (req) => v.refuseNetworkStorage(principal(req), 'create'));
  app.post('/api/v0/network_volumes', async (req) => v.refuseNetworkStorage(principal(req), 'list'));
  app.post('/api/v0/network_volumes/unlist', async (req) => v.refuseNetworkStorage(principal(req), 'unlist'));
  app.post('/api/v0/network_disk', async (req) => v.refuseNetworkStorage(principal(req), 'add-disk'));
  app.get('/api/v0/network_disk', async (req) => v.refuseNetworkStorage(principal(req), 'show-disks'));
}
