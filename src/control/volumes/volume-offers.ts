import { GantryError } from '../../domain/errors.js';
import { hostAccepts, type MachineRecord } from '../../domain/machine/machine.js';
import { checkVolumeSize, freeGb, type VolumeOfferRecord } from '../../domain/volume/volume.js';
import type { ControlContext } from '../context.js';
import { authorize, type Principal } from '../principal.js';

/** A volume offer with its machine, for a dialect to render. */
export interface VolumeOfferView {
  readonly offer: VolumeOfferRecord;
  readonly machine: MachineRecord;
  readonly freeGb: number;
}

export interface VolumeListing {
  readonly sizeGb: number;
  readonly priceDiskPerGbMonth: number | null;
  readonly endDate: number | null;
}

async function ownedMachine(ctx: ControlContext, p: Principal, id: number): Promise<MachineRecord> {
  authorize(p, 'machine.write', { kind: 'machine', id });
  const m = await ctx.store.getMachine(id, ctx.clock.now());
  if (!m || (m.ownerId !== p.accountId && !p.isAdmin)) throw new GantryError('MACHINE_NOT_FOUND', `No machine with id ${id}.`, { machineId: id });
  return m;
}

/**
 * `list volume`: set aside `sizeGb` of each machine's disk for volumes (one offer per machine: listing again
 * resizes and reprices it). The price defaults to the machine's disk price; never below what is rented already.
 */
export async function listVolumeOffers(ctx: ControlContext, p: Principal, machineIds: readonly number[], l: VolumeListing): Promise<VolumeOfferRecord[]> {
  authorize(p, 'machine.write');
  const size = checkVolumeSize(l.sizeGb);
  if (l.priceDiskPerGbMonth !== null && (!Number.isFinite(l.priceDiskPerGbMonth) || l.priceDiskPerGbMonth < 0))
    throw new GantryError('INVALID_ARGUMENT', `price_disk must be a number of $/GB/month >= 0, got ${l.priceDiskPerGbMonth}.`, { field: 'price_disk' });
  const machines = [];
  for (const id of machineIds) machines.push(await ownedMachine(ctx, p, id));
  const out: VolumeOfferRecord[] = [];
  for (const m of machines) {
    if (size > m.diskSpaceGb)
      throw new GantryError('INVALID_ARGUMENT', `size ${size} GB is more than machine ${m.id}'s ${m.diskSpaceGb} GB of disk.`, {
        field: 'size',
        machineId: m.id,
      });
    const [existing] = await ctx.store.listVolumeOffers({ listedOnly: false, machineId: m.id });
    if (existing !== undefined && size < existing.usedGb)
      throw new GantryError('INVALID_ARGUMENT', `machine ${m.id}'s volumes already hold ${existing.usedGb} GB; size must be at least that.`, { field: 'size' });
    const offer = await ctx.store.upsertVolumeOffer({
      machineId: m.id,
      ownerId: m.ownerId,
      sizeGb: size,
      priceDiskPerGbMonth: l.priceDiskPerGbMonth ?? m.priceDiskPerGbMonth,
      endDate: l.endDate,
      now: ctx.clock.now(),
    });
    ctx.log.info({ machineId: m.id, offerId: offer.id, sizeGb: size }, 'volume offer listed');
    out.push(offer);
  }
  return out;
}

/** `unlist volume`: no new volumes from the offer; volumes rented from it stay. */
export async function unlistVolumeOffer(ctx: ControlContext, p: Principal, offerId: number): Promise<VolumeOfferRecord> {
  authorize(p, 'machine.write');
  const offer = await ctx.store.getVolumeOffer(offerId);
  if (offer === undefined) throw new GantryError('VOLUME_OFFER_NOT_FOUND', `No volume offer with id ${offerId}.`, { offerId });
  await ownedMachine(ctx, p, offer.machineId).catch(() => {
    throw new GantryError('VOLUME_OFFER_NOT_FOUND', `No volume offer with id ${offerId}.`, { offerId });
  });
  await ctx.store.setVolumeOfferListed(offerId, false);
  return { ...offer, listed: false };
}

/** `search volumes`: listed offers with free space, not past their end date, on machines that take the caller's instances. */
export async function searchVolumeOffers(ctx: ControlContext, p: Principal): Promise<VolumeOfferView[]> {
  authorize(p, 'offer.search');
  const now = ctx.clock.now();
  const machines = new Map((await ctx.machines.list()).map((m) => [m.id, m]));
  const out: VolumeOfferView[] = [];
  for (const offer of await ctx.store.listVolumeOffers({ listedOnly: true })) {
    const machine = machines.get(offer.machineId);
    if (machine === undefined || (offer.endDate !== null && offer.endDate <= now) || !hostAccepts(machine, p.accountId)) continue;
    const free = freeGb(offer);
    if (free > 0) out.push({ offer, machine, freeGb: free });
  }
  return out;
}
