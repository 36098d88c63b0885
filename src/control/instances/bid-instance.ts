import { GantryError } from '../../domain/errors.js';
import { checkBid } from '../../domain/instance/bids.js';
import { prepaidMonths, prepayDiscount } from '../../domain/billing/prepay.js';
import { rentalPerHour, storagePerHour } from '../../domain/offer/offer.js';
import type { InstanceRecord } from '../../domain/instance/instance.js';
import type { MachineRecord } from '../../domain/machine/machine.js';
import type { ControlContext } from '../context.js';
import { authorizeInstance, type Principal } from '../principal.js';

/** The size an instance rents: its GPUs, or its vCPUs on a machine without GPUs. */
function rentalSize(i: InstanceRecord, m: MachineRecord): number {
  return m.numGpus > 0 ? i.numGpus : Math.max(1, Math.round(i.cpuCores ?? 1));
}

async function machineOf(ctx: ControlContext, i: InstanceRecord): Promise<MachineRecord> {
  const m = await ctx.store.getMachine(i.machineId, ctx.clock.now());
  if (!m) throw new GantryError('MACHINE_NOT_FOUND', `Machine ${i.machineId} of instance ${i.id} is gone.`, { machineId: i.machineId });
  return m;
}

/**
 * Change an interruptible instance's bid ($/hour for the whole instance; none: the offer's minimum). A bid
 * below the machine's minimum is refused; a higher one may win GPUs at once (or preempt a lower bid, which
 * stops first), a lower one may lose them to a waiting higher bid. Billing uses the new price from now on.
 */
export async function changeBid(ctx: ControlContext, p: Principal, id: number, price: number | null): Promise<InstanceRecord> {
  const inst = authorizeInstance(p, await ctx.store.getInstance(id), id, 'instance.manage');
  if (inst.status === 'destroyed' || inst.target === 'deleted')
    throw new GantryError('ILLEGAL_TRANSITION', `Instance ${id} is destroyed or being destroyed; its bid cannot change.`, { instanceId: id });
  if (inst.offerType !== 'bid')
    throw new GantryError('INVALID_ARGUMENT', `Instance ${id} is rented on demand; only interruptible (bid) instances have a bid to change.`, {
      field: 'price',
    });
  const m = await machineOf(ctx, inst);
  const min = rentalPerHour(m, rentalSize(inst, m), 'bid');
  const bid = price ?? Math.round(min * 1e6) / 1e6;
  if (!Number.isFinite(bid) || bid < 0.001 || bid > 128)
    throw new GantryError('INVALID_ARGUMENT', 'price (bid) must be between 0.001 and 128 $/hour.', { field: 'price' });
  checkBid(bid, min, m.id);
  const after = await ctx.store.changeBid(id, bid, ctx.clock.now());
  ctx.log.info({ instanceId: id, from: inst.bidPrice, to: bid, waiting: after.gpuWaitSince !== null }, 'instance bid changed');
  ctx.wake();
  return after;
}

export interface Deposit {
  readonly instance: InstanceRecord;
  /** Unspent prepaid credit, $. */
  readonly deposit: number;
  /** Months of the instance's rate the deposit covers, and the discount it earned (0..1). */
  readonly months: number;
  readonly discount: number;
}

function depositOf(inst: InstanceRecord, m: MachineRecord): Deposit {
  const perHour = inst.dphBase + storagePerHour(m, inst.diskGb);
  return { instance: inst, deposit: inst.deposit, months: prepaidMonths(inst.deposit, perHour), discount: inst.depositDiscount ?? 0 };
}

/** Prepay credit into an instance (a reserved instance): moved from the balance, spent on its compute at a discount. */
export async function prepayInstance(ctx: ControlContext, p: Principal, id: number, amount: number | null): Promise<Deposit> {
  const inst = authorizeInstance(p, await ctx.store.getInstance(id), id, 'instance.manage');
  if (inst.status === 'destroyed' || inst.target === 'deleted')
    throw new GantryError('ILLEGAL_TRANSITION', `Instance ${id} is destroyed or being destroyed; nothing can be prepaid into it.`, { instanceId: id });
  if (amount === null || !Number.isFinite(amount) || amount < 0.01)
    throw new GantryError('INVALID_ARGUMENT', "Give 'amount', the credit to prepay: at least $0.01.", { field: 'amount' });
  const m = await machineOf(ctx, inst);
  const perHour = inst.dphBase + storagePerHour(m, inst.diskGb);
  const discount = prepayDiscount(prepaidMonths(inst.deposit + amount, perHour), m.discountRate);
  const after = await ctx.store.prepayInstance(id, amount, discount, ctx.clock.now());
  ctx.log.info({ instanceId: id, amount, discount }, 'instance prepaid');
  return depositOf(after, m);
}

export async function showDeposit(ctx: ControlContext, p: Principal, id: number): Promise<Deposit> {
  const inst = authorizeInstance(p, await ctx.store.getInstance(id), id, 'instance.read');
  return depositOf(inst, await machineOf(ctx, inst));
}
