import { GantryError } from '../../domain/errors.js';
import { validateListing, validateMaintenance, type ListingRequest } from '../../domain/machine/listing.js';
import type { ControlContext } from '../context.js';
import { authorize, type Principal } from '../principal.js';
import type { MachineRecord } from '../../domain/machine/machine.js';

/**
 * The host side of the marketplace: owners list, unlist, price and schedule maintenance for their machines.
 * Another account's machine answers "not found" (an admin may act on any).
 */
async function ownedMachine(ctx: ControlContext, p: Principal, id: number): Promise<MachineRecord> {
  authorize(p, 'machine.write', { kind: 'machine', id });
  const m = await ctx.store.getMachine(id, ctx.clock.now());
  if (!m || (m.ownerId !== p.accountId && !p.isAdmin)) throw new GantryError('MACHINE_NOT_FOUND', `No machine with id ${id}.`, { machineId: id });
  return m;
}

function changed(ctx: ControlContext, what: string, m: MachineRecord, extra: Record<string, unknown> = {}): void {
  ctx.machines.invalidate();
  ctx.log.info({ machineId: m.id, ...extra }, what);
}

/** The caller's machines; an admin sees every machine, or one account's with `userId`. */
export async function listOwnMachines(ctx: ControlContext, p: Principal, userId: number | null): Promise<MachineRecord[]> {
  authorize(p, 'machine.read');
  const all = await ctx.store.listMachines(ctx.clock.now());
  const owner = p.isAdmin ? userId : p.accountId;
  return owner === null ? all : all.filter((m) => m.ownerId === owner);
}

/** Live rentals on the machine (they continue whatever the listing does). */
async function rentals(ctx: ControlContext, machineId: number): Promise<number> {
  return (await ctx.store.liveInstanceIds(machineId)).size;
}

export async function listMachine(ctx: ControlContext, p: Principal, id: number, l: ListingRequest): Promise<{ extended: number }> {
  const m = await ownedMachine(ctx, p, id);
  const now = ctx.clock.now();
  await ctx.store.setListing(id, { ...validateListing(l, m, now), listed: true });
  changed(ctx, 'machine listed', m, { ...l });
  return { extended: l.endDate !== undefined ? await rentals(ctx, id) : 0 };
}

export async function unlistMachine(ctx: ControlContext, p: Principal, id: number): Promise<MachineRecord> {
  const m = await ownedMachine(ctx, p, id);
  await ctx.store.setListing(id, { listed: false });
  changed(ctx, 'machine unlisted; running rentals continue', m);
  return m;
}

export async function setMinBid(ctx: ControlContext, p: Principal, id: number, price: number): Promise<void> {
  const m = await ownedMachine(ctx, p, id);
  await ctx.store.setListing(id, { ...validateListing({ minBidPerGpuHour: price }, m, ctx.clock.now()), listed: m.listed });
  changed(ctx, 'machine min bid set', m, { price });
}

/** Offers are hidden during the window; returns how many renters have instances there (the ones to tell). */
export async function scheduleMaintenance(
  ctx: ControlContext,
  p: Principal,
  id: number,
  w: { startMs: number; durationHours: number; reason: string | null },
): Promise<{ notified: number }> {
  const m = await ownedMachine(ctx, p, id);
  const win = validateMaintenance(w.startMs, w.durationHours, ctx.clock.now());
  await ctx.store.setMaintenance(id, { ...win, reason: w.reason });
  changed(ctx, 'maintenance scheduled', m, win);
  return { notified: await rentals(ctx, id) };
}

export async function cancelMaintenance(ctx: ControlContext, p: Principal, id: number): Promise<{ cancelled: number }> {
  const m = await ownedMachine(ctx, p, id);
  await ctx.store.setMaintenance(id, null);
  changed(ctx, 'maintenance cancelled', m);
  return { cancelled: m.maintenance === null ? 0 : 1 };
}
