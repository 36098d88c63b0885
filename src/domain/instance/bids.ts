import { GantryError } from '../errors.js';

/**
 * Interruptible (bid) instances, as on Vast: a bid must reach the machine's minimum, and an on-demand
 * rental or a higher bid takes the GPUs of the lowest bids, which stop (disk kept) and run again once
 * they are the highest bid waiting and GPUs are free. Pure rules; the store applies a plan in one
 * transaction and the reconciler carries out the stops and starts through the one lifecycle.
 */

/** Per-GPU $/hour that ranks a claim on GPUs; on-demand and reserved rentals outrank every bid. */
export function claimPriority(i: { readonly offerType: string; readonly bidPrice: number | null; readonly numGpus: number }): number {
  if (i.offerType !== 'bid' || i.bidPrice === null) return Number.POSITIVE_INFINITY;
  return i.bidPrice / Math.max(1, i.numGpus);
}

/** Refuse a bid ($/hour for the whole rental) below the offer's minimum with a message that names it. */
export function checkBid(price: number, minForOffer: number, machineId: number): void {
  const min = Math.round(minForOffer * 1e6) / 1e6;
  // A hair of tolerance: prices travel as decimal text and binary floats.
  if (price + 1e-9 < min) {
    throw new GantryError(
      'BID_TOO_LOW',
      `The bid $${price}/hour is below the minimum bid of $${min}/hour for this offer on machine ${machineId}; bid at least that.`,
      { field: 'price', minBid: min, price },
    );
  }
}

const money = (perGpu: number, numGpus: number): string => `$${Math.round(perGpu * Math.max(1, numGpus) * 1e4) / 1e4}/hour`;

/** status_msg of an instance whose GPUs went to a stronger claim. */
export function preemptedMessage(byPriority: number, numGpus: number): string {
  const by = Number.isFinite(byPriority) ? `outbid by a higher bid (${money(byPriority, numGpus)} for its GPUs)` : 'preempted by an on-demand rental';
  return `${by}: stopped with its disk kept, GPU time is not billed meanwhile (storage is); it runs again when it is the highest bid waiting and GPUs are free`;
}

export const WAITING_MESSAGE = 'waiting for GPUs: outbid; it runs when it is the highest bid waiting and GPUs are free';
export function waitingForReleaseMessage(victims: readonly number[]): string {
  return victims.length > 0
    ? `waiting for GPUs: instance${victims.length > 1 ? 's' : ''} ${victims.join(', ')} (lower bid) stop${victims.length > 1 ? '' : 's'} first`
    : 'waiting for GPUs held by preempted instances to be released';
}

/** An instance holding GPU allocations on the machine. */
export interface GpuHolder {
  readonly id: number;
  readonly priority: number;
  readonly gpus: readonly number[];
  /** It wants to keep running (target running, not already outbid): a candidate victim if it is a bid. */
  readonly settled: boolean;
  /** It was outbid and still holds its GPUs until its stop is confirmed. */
  readonly releasing: boolean;
}

/** An instance that wants to run but holds no GPUs (or still holds the ones it is giving up). */
export interface GpuWaiter {
  readonly id: number;
  readonly priority: number;
  readonly numGpus: number;
  readonly since: number;
}

export interface PlacementPlan {
  /** Waiters that get these free GPUs now (or keep their own, when `kept`). */
  readonly grants: readonly { readonly id: number; readonly gpus: readonly number[]; readonly kept: boolean }[];
  /** Settled bids to stop for a stronger waiter. */
  readonly preempt: readonly { readonly id: number; readonly byPriority: number }[];
  /** Waiters that win once the GPUs being released are free, with the instances they wait for. */
  readonly pending: ReadonlyMap<number, readonly number[]>;
  /** Waiters that cannot win now (outbid). */
  readonly outbid: ReadonlySet<number>;
}

/** Free GPUs in the order they are granted: those no stopped instance starts on again first. */
export function homesLast(free: readonly number[], homes: ReadonlySet<number>): number[] {
  return [...free.filter((g) => !homes.has(g)), ...free.filter((g) => homes.has(g))];
}

/** The first `n` of the free GPUs in grant order, as a sorted list. */
export function firstFree(free: readonly number[], homes: ReadonlySet<number>, n: number): number[] {
  return homesLast(free, homes)
    .slice(0, n)
    .sort((a, b) => a - b);
}

const byClaim = (a: GpuWaiter, b: GpuWaiter): number => b.priority - a.priority || a.since - b.since || a.id - b.id;

/**
 * Who gets a machine's GPUs. Waiters are served strongest claim first (then oldest): free GPUs first, then
 * GPUs being released by outbid instances, then the lowest settled bids below the waiter's are preempted.
 * A waiter that cannot be served takes nothing, so weaker waiters may still fit. `homes`: the GPUs of
 * stopped instances, which start again only on their own GPUs; free ones are granted last, so a stopped
 * instance keeps its GPUs free while other GPUs are.
 */
export function planPlacement(
  totalGpus: number,
  holders: readonly GpuHolder[],
  waiters: readonly GpuWaiter[],
  homes: ReadonlySet<number> = new Set(),
): PlacementPlan {
  const held = new Set(holders.flatMap((h) => h.gpus));
  let free = homesLast(
    Array.from({ length: totalGpus }, (_, i) => i).filter((g) => !held.has(g)),
    homes,
  );
  const releasing = new Map(holders.filter((h) => h.releasing).map((h) => [h.id, [...h.gpus]]));
  const victims = holders.filter((h) => h.settled && Number.isFinite(h.priority)).sort((a, b) => a.priority - b.priority || b.id - a.id);
  const grants: { id: number; gpus: number[]; kept: boolean }[] = [];
  const preempt: { id: number; byPriority: number }[] = [];
  const pending = new Map<number, number[]>();
  const outbid = new Set<number>();
  const pool = (): number => [...releasing.values()].reduce((n, g) => n + g.length, 0);
  for (const w of [...waiters].sort(byClaim)) {
    const own = releasing.get(w.id);
    if (own !== undefined && own.length >= w.numGpus) {
      // Still holding its GPUs (the stop is not confirmed yet) and nobody stronger needs them: it keeps them.
      releasing.delete(w.id);
      grants.push({ id: w.id, gpus: own, kept: true });
      continue;
    }
    if (free.length >= w.numGpus) {
      grants.push({ id: w.id, gpus: free.slice(0, w.numGpus).sort((a, b) => a - b), kept: false });
      free = free.slice(w.numGpus);
      continue;
    }
    let need = w.numGpus - free.length - pool();
    const chosen: GpuHolder[] = [];
    for (const v of victims) {
      if (need <= 0 || v.priority >= w.priority) break;
      chosen.push(v);
      need -= v.gpus.length;
    }
    if (need > 0) {
      outbid.add(w.id);
      continue;
    }
    for (const v of chosen) {
      victims.splice(victims.indexOf(v), 1);
      preempt.push({ id: v.id, byPriority: w.priority });
      releasing.set(v.id, [...v.gpus]);
    }
    // Reserve what it waits for: the free GPUs, then released ones, so weaker waiters do not take them.
    let rest = w.numGpus - free.length;
    free = [];
    const waitsFor: number[] = [];
    for (const [id, gpus] of releasing) {
      if (rest <= 0) break;
      const take = gpus.splice(0, rest);
      rest -= take.length;
      waitsFor.push(id);
      if (gpus.length === 0) releasing.delete(id);
    }
    pending.set(w.id, waitsFor);
  }
  return { grants, preempt, pending, outbid };
}
