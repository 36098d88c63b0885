import { applyQuery, compile, norm, type Order } from '../query/filter.js';
import type { Offer } from './offer.js';
import { DEFAULT_OFFER_ORDER, offerFieldType, type OfferSearch } from './search.js';
import { SortedRows } from './sorted-rows.js';

/** How many orders one bucket keeps sorted; a search in yet another order scans the bucket's rows. */
export const MAX_SORTED_ORDERS = 8;
/** The orders kept sorted from the start: the default (score), price, and the order workers are recruited in. */
export const PRESORTED_ORDERS: readonly (readonly Order[])[] = [
  DEFAULT_OFFER_ORDER,
  [{ field: 'dphTotal', dir: 'asc' }],
  [
    { field: 'numGpus', dir: 'asc' },
    { field: 'dphTotal', dir: 'asc' },
  ],
];

/** Offers of some machines (all, or those of one GPU name), with the orders searches asked for. */
class Bucket {
  readonly machines = new Map<number, readonly Offer[]>();
  readonly sorted = new Map<string, SortedRows>();

  *rows(): Iterable<Offer> {
    for (const offers of this.machines.values()) yield* offers;
  }

  set(machineId: number, offers: readonly Offer[]): void {
    const old = this.machines.get(machineId);
    for (const s of this.sorted.values()) {
      for (const r of old ?? []) s.remove(r);
      for (const r of offers) s.insert(r);
    }
    if (offers.length === 0) this.machines.delete(machineId);
    else this.machines.set(machineId, offers);
  }

  sortedBy(order: readonly Order[]): SortedRows | null {
    const key = orderKey(order);
    let s = this.sorted.get(key);
    if (s === undefined && this.sorted.size < MAX_SORTED_ORDERS) this.sorted.set(key, (s = new SortedRows(order, this.rows())));
    return s ?? null;
  }
}

/** A machine's offers by chunk size (one offer per size). */
function byCount(offers: readonly Offer[]): Map<number, readonly Offer[]> {
  const out = new Map<number, Offer[]>();
  for (const r of offers) out.set(r.numGpus, [...(out.get(r.numGpus) ?? []), r]);
  return out;
}

const orderKey = (order: readonly Order[]): string => order.map((o) => `${o.field}:${o.dir}`).join(',');
const gpuKey = (gpuName: string): string => norm('string', gpuName) as string;

/** Which machines' offers a search may show now, and which machines the caller rents on. */
export interface TableView {
  readonly visible: (machineId: number) => boolean;
  readonly rentedByCaller: ReadonlySet<number>;
}

/** Rows of several buckets kept in the same order, merged into that order. */
function* merged(sorted: readonly SortedRows[]): Generator<Offer> {
  const first = sorted[0];
  if (first === undefined) return;
  if (sorted.length === 1) {
    yield* first.rows();
    return;
  }
  const its = sorted.map((s) => s.rows());
  const heads = its.map((it) => it.next());
  for (;;) {
    let best = -1;
    for (let i = 0; i < heads.length; i++) {
      const h = heads[i] as IteratorResult<Offer>;
      if (h.done !== true && (best < 0 || first.compare(h.value, (heads[best] as IteratorYieldResult<Offer>).value) < 0)) best = i;
    }
    if (best < 0) return;
    yield (heads[best] as IteratorYieldResult<Offer>).value;
    heads[best] = (its[best] as Generator<Offer>).next();
  }
}

/**
 * The offers of every machine for one pricing (type and storage), whether or not the machine may be
 * shown now: visibility (listing end, heartbeat, maintenance) changes with time and is judged per search.
 * Rows carry `rentedByCaller: false`; the caller's machines are marked on the answer. Pure: the index
 * that feeds it lives in the control layer.
 *
 * Besides all offers, buckets by GPU name and by GPU count (chunk size): a search for one name reads
 * only its bucket, and one on the count reads the counts it allows, merged in its order. Without the
 * latter, "8 GPUs, cheapest first" walked past every cheaper 1-, 2- and 4-GPU chunk first.
 */
export class OfferTable {
  readonly #all = new Bucket();
  readonly #byGpu = new Map<string, Bucket>();
  readonly #byCount = new Map<number, Bucket>();

  /** Built whole from every machine's offers: each order is sorted once, not row by row. */
  constructor(machines: Iterable<readonly [number, readonly Offer[]]> = []) {
    for (const [id, offers] of machines) {
      const first = offers[0];
      if (first === undefined) continue;
      this.#all.machines.set(id, offers);
      this.#bucket(first.gpuName).machines.set(id, offers);
      for (const [count, rows] of byCount(offers)) this.#countBucket(count).machines.set(id, rows);
    }
    for (const o of PRESORTED_ORDERS) this.#all.sortedBy(o);
  }

  #countBucket(count: number): Bucket {
    let b = this.#byCount.get(count);
    if (b === undefined) this.#byCount.set(count, (b = new Bucket()));
    return b;
  }

  #bucket(gpuName: string): Bucket {
    const key = gpuKey(gpuName);
    let b = this.#byGpu.get(key);
    if (b === undefined) this.#byGpu.set(key, (b = new Bucket()));
    return b;
  }

  /** Replace one machine's offers (none: it has none, or is gone). */
  set(machineId: number, offers: readonly Offer[]): void {
    const old = this.#all.machines.get(machineId) ?? [];
    if (old[0] !== undefined) this.#byGpu.get(gpuKey(old[0].gpuName))?.set(machineId, []);
    const counts = byCount(offers);
    for (const r of old) if (!counts.has(r.numGpus)) this.#byCount.get(r.numGpus)?.set(machineId, []);
    this.#all.set(machineId, offers);
    const first = offers[0];
    if (first !== undefined) this.#bucket(first.gpuName).set(machineId, offers);
    for (const [count, rows] of counts) this.#countBucket(count).set(machineId, rows);
  }

  /** The answer a full computation gives: same rows, same order. */
  query(q: OfferSearch, view: TableView): Offer[] {
    const mark = (r: Offer): Offer => (view.rentedByCaller.has(r.machineId) ? { ...r, rentedByCaller: true } : r);
    const order = q.order.length > 0 ? q.order : DEFAULT_OFFER_ORDER;
    // One GPU name: its bucket holds exactly the rows the condition keeps (same normalization).
    const byName = q.conditions.find((c) => c.field === 'gpuName' && c.op === 'eq' && typeof c.value === 'string');
    const bucket = byName === undefined ? this.#all : (this.#byGpu.get(gpuKey(byName.value as string)) ?? new Bucket());
    const rest = q.conditions.filter((c) => c !== byName);
    const perCaller = rest.some((c) => c.field === 'rentedByCaller') || order.some((o) => o.field === 'rentedByCaller');
    const compiled = rest.map((c) => ({ field: c.field, test: compile(c, offerFieldType) }));
    const onCount = compiled.filter((c) => c.field === 'numGpus').map((c) => c.test);
    const sorted = perCaller ? null : this.#sortedFor(byName === undefined ? null : bucket, onCount, order);
    if (sorted === null) {
      // Rare: the caller's own mark is filtered or sorted on, or too many orders: scan the rows in id order.
      const rows: Offer[] = [];
      for (const r of bucket.rows()) if (view.visible(r.machineId)) rows.push(mark(r));
      rows.sort((a, b) => a.id - b.id);
      return applyQuery(rows, { ...q, conditions: rest, order }, offerFieldType);
    }
    const tests = compiled.map((c) => c.test);
    const out: Offer[] = [];
    if (q.limit === 0) return out;
    for (const row of merged(sorted)) {
      if (!view.visible(row.machineId) || !tests.every((t) => t(row as unknown as Readonly<Record<string, unknown>>))) continue;
      out.push(mark(row));
      if (out.length === q.limit) return out;
    }
    return out;
  }

  /**
   * The sorted rows to walk: the GPU name's bucket; else, when the search limits the GPU count, the
   * buckets of the counts it allows (all conditions still apply to each row); else every offer. Null
   * when a bucket may keep no more orders.
   */
  #sortedFor(byName: Bucket | null, onCount: readonly ReturnType<typeof compile>[], order: readonly Order[]): SortedRows[] | null {
    const buckets =
      byName !== null
        ? [byName]
        : onCount.length === 0
          ? [this.#all]
          : [...this.#byCount].filter(([n]) => onCount.every((t) => t({ numGpus: n }))).map(([, b]) => b);
    const sorted = buckets.map((b) => b.sortedBy(order));
    return sorted.every((s): s is SortedRows => s !== null) ? sorted : null;
  }
}
