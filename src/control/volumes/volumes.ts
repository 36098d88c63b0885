import { GantryError } from '../../domain/errors.js';
import { hostAccepts, type MachineRecord } from '../../domain/machine/machine.js';
import {
  checkVolumeName,
  checkVolumeReady,
  checkVolumeSize,
  type VolumeAttachRequest,
  type VolumeMount,
  type VolumeRecord,
} from '../../domain/volume/volume.js';
import { requireCredit } from '../billing/billing.js';
import type { ControlContext } from '../context.js';
import { reachHost } from '../reach-host.js';
import { authorize, type Principal } from '../principal.js';

/** A volume with its machine, for a dialect to render. */
export interface VolumeView {
  readonly volume: VolumeRecord;
  readonly machine: MachineRecord | undefined;
}

function notFound(id: number): GantryError {
  return new GantryError('VOLUME_NOT_FOUND', `No volume with id ${id}.`, { volumeId: id });
}

/** The caller's live volume (an admin's: anyone's); another tenant's answers "not found". */
export async function ownedVolume(ctx: ControlContext, p: Principal, id: number, action: 'volume.read' | 'volume.write'): Promise<VolumeRecord> {
  authorize(p, action, { kind: 'volume', id });
  const v = await ctx.store.getVolume(id);
  if (v === undefined || (v.accountId !== p.accountId && !p.isAdmin)) throw notFound(id);
  return v;
}

/** Rent a volume from an offer: only where the machine would take the caller's instances (that is how it is used). */
async function rent(
  ctx: ControlContext,
  p: Principal,
  r: { offerId: number; sizeGb: number; name: string | null; cloningUntil?: number },
): Promise<VolumeRecord> {
  const offer = await ctx.store.getVolumeOffer(r.offerId);
  const m = offer && (await ctx.store.getMachine(offer.machineId, ctx.clock.now()));
  if (offer === undefined || !offer.listed || m === undefined || !hostAccepts(m, p.accountId) || (offer.endDate !== null && offer.endDate <= ctx.clock.now()))
    throw new GantryError('VOLUME_OFFER_NOT_FOUND', `No listed volume offer with id ${r.offerId}; search volumes for current ids.`, { offerId: r.offerId });
  const v = await ctx.store.createVolume({
    accountId: p.accountId,
    offerId: r.offerId,
    sizeGb: checkVolumeSize(r.sizeGb),
    name: checkVolumeName(r.name),
    now: ctx.clock.now(),
    cloningUntil: r.cloningUntil ?? null,
  });
  ctx.log.info({ volumeId: v.id, machineId: v.machineId, sizeGb: v.sizeGb }, 'volume created');
  return v;
}

/** `create volume`: storage is billed from now (docs: README), so the account needs credit as for an instance. */
export async function createVolume(ctx: ControlContext, p: Principal, r: { offerId: number; sizeGb: number; name: string | null }): Promise<VolumeRecord> {
  authorize(p, 'volume.write');
  await requireCredit(ctx, p);
  return rent(ctx, p, r);
}

export async function listVolumes(ctx: ControlContext, p: Principal): Promise<VolumeView[]> {
  authorize(p, 'volume.read');
  const machines = new Map((await ctx.machines.list()).map((m) => [m.id, m]));
  return (await ctx.store.listVolumes({ accountId: p.accountId })).map((volume) => ({ volume, machine: machines.get(volume.machineId) }));
}

/**
 * `delete volume`: refused while an instance that is not destroyed links it. The record goes now; the host
 * removes the data when it is reachable, else `cleanup machine` does later. Answers whether the data is gone.
 */
export async function deleteVolume(ctx: ControlContext, p: Principal, id: number): Promise<{ dataRemoved: boolean }> {
  const v = await ownedVolume(ctx, p, id, 'volume.write');
  await ctx.store.deleteVolume(id, ctx.clock.now());
  try {
    const host = await reachHost(ctx, v.machineId);
    if (host === undefined) return { dataRemoved: false };
    await host.storage({ kind: 'deleteVolume', volumeId: id });
    return { dataRemoved: true };
  } catch (err) {
    ctx.log.warn({ err, volumeId: id, machineId: v.machineId }, 'volume data not removed yet; cleanup machine removes it');
    return { dataRemoved: false };
  }
}

/**
 * How long a clone stays unconfirmed before housekeeping gives it up: the host's copy is bounded by
 * stepTimeoutMs (through another replica's agent session, plus agentCallTimeoutMs and a second), so past this
 * no replica still waits for its answer; the margin covers clock skew between replicas.
 */
export function cloneBoundMs(s: ControlContext['settings']): number {
  return s.stepTimeoutMs + s.agentCallTimeoutMs + CLONE_MARGIN_MS;
}
const CLONE_MARGIN_MS = 60_000;

/**
 * `clone volume`: a new volume from an offer of the same machine, holding a copy of the source's data (a copy
 * across machines would move data over the network between hosts, which Gantry does not do). The new volume is
 * a clone (not linkable, not billed) until its host confirms the copy: a control plane lost during the copy
 * leaves it so, and housekeeping removes it past its bound.
 */
export async function cloneVolume(ctx: ControlContext, p: Principal, r: { sourceId: number; offerId: number; sizeGb: number | null }): Promise<VolumeRecord> {
  authorize(p, 'volume.write');
  const src = await ownedVolume(ctx, p, r.sourceId, 'volume.write');
  checkVolumeReady(src, 'cloned');
  const offer = await ctx.store.getVolumeOffer(r.offerId);
  if (offer !== undefined && offer.machineId !== src.machineId)
    throw new GantryError(
      'VOLUME_WRONG_MACHINE',
      `Volume ${src.id} lives on machine ${src.machineId}; offer ${r.offerId} is on machine ${offer.machineId}. Clone to an offer of the same machine.`,
      { volumeId: src.id, offerId: r.offerId },
    );
  const size = r.sizeGb ?? src.sizeGb;
  if (size < src.sizeGb) throw new GantryError('INVALID_ARGUMENT', `size must be at least the source's ${src.sizeGb} GB.`, { field: 'size' });
  const host = await reachHost(ctx, src.machineId);
  if (host === undefined)
    throw new GantryError('HOST_UNAVAILABLE', `Machine ${src.machineId} is not connected; the copy needs its host.`, { machineId: src.machineId });
  await requireCredit(ctx, p);
  const v = await rent(ctx, p, { offerId: r.offerId, sizeGb: size, name: src.name, cloningUntil: ctx.clock.now() + cloneBoundMs(ctx.settings) });
  try {
    await host.storage({ kind: 'cloneVolume', fromId: src.id, toId: v.id });
  } catch (err) {
    // Its owner may have deleted it meanwhile, or housekeeping given it up: nothing left to delete then.
    await ctx.store.deleteVolume(v.id, ctx.clock.now()).catch((e: unknown) => {
      if (!(e instanceof GantryError && e.code === 'VOLUME_NOT_FOUND')) throw e;
    });
    throw new GantryError(
      'HOST_UNAVAILABLE',
      `Copying volume ${src.id} failed on machine ${src.machineId}: ${err instanceof Error ? err.message : String(err)}`,
      {
        machineId: src.machineId,
      },
    );
  }
  if (!(await ctx.store.confirmVolumeClone(v.id, ctx.clock.now()))) {
    // Deleted by its owner, or given up past its bound, while the copy ran: the copied data is an orphan.
    await host.storage({ kind: 'deleteVolume', volumeId: v.id }).catch((err: unknown) => {
      ctx.log.warn({ err, volumeId: v.id, machineId: v.machineId }, 'data of a clone gone meanwhile not removed yet; cleanup machine removes it');
    });
    throw new GantryError('VOLUME_NOT_FOUND', `Volume ${v.id} was deleted while its copy ran (by its owner, or given up past its bound); nothing was kept.`, {
      volumeId: v.id,
    });
  }
  ctx.log.info({ volumeId: v.id, sourceId: src.id }, 'volume clone confirmed');
  return { ...v, cloningUntil: null };
}

/**
 * `volume_info` of a create instance: the volume to link (made now from an offer when asked), which must live on
 * the instance's machine. `undo` removes a volume made here when the instance is not created after all.
 */
export async function volumeForCreate(
  ctx: ControlContext,
  p: Principal,
  r: VolumeAttachRequest,
  machineId: number,
): Promise<{ mounts: VolumeMount[]; undo: () => Promise<void> }> {
  authorize(p, 'volume.write');
  const wrongMachine = (on: number): GantryError =>
    new GantryError('VOLUME_WRONG_MACHINE', `The volume's data lives on machine ${on}; the offer rents machine ${machineId}. Pick an offer of machine ${on}.`, {
      volumeMachineId: on,
      machineId,
    });
  if (r.kind === 'existing') {
    const v = await ownedVolume(ctx, p, r.volumeId, 'volume.write');
    if (v.machineId !== machineId) throw wrongMachine(v.machineId);
    checkVolumeReady(v, 'linked into an instance');
    return { mounts: [{ volumeId: v.id, mountPath: r.mountPath }], undo: () => Promise.resolve() };
  }
  const offer = await ctx.store.getVolumeOffer(r.offerId);
  if (offer !== undefined && offer.machineId !== machineId) throw wrongMachine(offer.machineId);
  const v = await rent(ctx, p, { offerId: r.offerId, sizeGb: r.sizeGb, name: r.name });
  return { mounts: [{ volumeId: v.id, mountPath: r.mountPath }], undo: () => ctx.store.deleteVolume(v.id, ctx.clock.now()) };
}
