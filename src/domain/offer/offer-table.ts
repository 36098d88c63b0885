import { applyQuery, compare, compile, norm, type Order } from '../query/filter.js';
import type { Offer } from './offer.js';
import { DEFAULT_OFFER_ORDER, offerFieldType, type OfferSearch } from './search.js';

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

interface Entry {
  readonly row: Offer;
  readonly keys: readonly unknown[];
}

/**
 * Rows kept in one order, ties broken by offer id: a full computation lists offers by id and sorts
 * stably, so this is the order it answers in. A machine's change removes and inserts its few rows.
 */
class SortedRows {
  readonly #order: readonly Order[];
  #entries: Entry[];

  constructor(order: readonly Order[], rows: Iterable<Offer>) {
    this.#order = order;
    this.#entries = [...rows].map((r) => this.#entry(r));
    this.#entries.sort((a, b) => this.#cmp(a, b));
  }

  get entries(): readonly Entry[] {
    return this.#entries;
  }

  #entry(row: Offer): Entry {
    return { row, keys: this.#order.map((o) => norm(offerFieldType(o.field), (row as unknown as Record<string, unknown>)[o.field])) };
  }

  #cmp(a: Entry, b: Entry): number {
    for (let i = 0; i < this.#order.length; i++) {
      const d = compare(a.keys[i], b.keys[i]);
      if (d !== 0) return this.#order[i]?.dir === 'desc' ? -d : d;
    }
    return a.row.id - b.row.id;
  }

  /** The first position whose entry does not sort before `e`. */
  #lowerBound(e: Entry): number {
    let lo = 0;
    let hi = this.#entries.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.#cmp(this.#entries[mid] as Entry, e) < 0) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  insert(row: Offer): void {
    const e = this.#entry(row);
    this.#entries.splice(this.#lowerBound(e), 0, e);
  }

  remove(row: Offer): void {
    const i = this.#lowerBound(this.#entry(row));
    if (this.#entries[i]?.row === row) this.#entries.splice(i, 1);
    else this.#entries = this.#entries.filter((e) => e.row !== row); // unreachable while keys are pure functions of the row
  }
}

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

const orderKey = (order: readonly Order[]): string => order.map((o) => `${o.field}:${o.dir}`).join(',');
const gpuKey = (gpuName: string): string => norm('string', gpuName) as string;

/** Which machines' offers a search may show now, and which machines the caller rents on. */
export interface TableView {
  readonly visible: (machineId: number) => boolean;
  readonly rentedByCaller: ReadonlySet<number>;
}

/**
 * The offers of every machine for one pricing (type and storage), whether or not the machine may be
 * shown now: visibility (listing end, heartbeat, maintenance) changes with time and is judged per search.
 * Rows carry `rentedByCaller: false`; the caller's machines are marked on the answer. Pure: the index
 * that feeds it lives in the control layer.
 */
export class OfferTable {
  readonly #all = new Bucket();
  readonly #byGpu = new Map<string, Bucket>();

  constructor() {
    for (const o of PRESORTED_ORDERS) this.#all.sortedBy(o);
  }

  /** Replace one machine's offers (none: it has none, or is gone). */
  set(machineId: number, offers: readonly Offer[]): void {
    const old = this.#all.machines.get(machineId);
    if (old?.[0] !== undefined) this.#byGpu.get(gpuKey(old[0].gpuName))?.set(machineId, []);
    this.#all.set(machineId, offers);
    const first = offers[0];
    if (first === undefined) return;
    const key = gpuKey(first.gpuName);
    let b = this.#byGpu.get(key);
    if (b === undefined) this.#byGpu.set(key, (b = new Bucket()));
    b.set(machineId, offers);
  }

  get size(): number {
    let n = 0;
    for (const offers of this.#all.machines.values()) n += offers.length;
    return n;
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
    const sorted = perCaller ? null : bucket.sortedBy(order);
    if (sorted === null) {
      // Rare: the caller's own mark is filtered or sorted on, or too many orders: scan the rows in id order.
      const rows: Offer[] = [];
      for (const r of bucket.rows()) if (view.visible(r.machineId)) rows.push(mark(r));
      rows.sort((a, b) => a.id - b.id);
      return applyQuery(rows, { ...q, conditions: rest, order }, offerFieldType);
    }
    const tests = rest.map((c) => compile(c, offerFieldType));
    const out: Offer[] = [];
    if (q.limit === 0) return out;
    for (const e of sorted.entries) {
      const r = e.row as unknown as Readonly<Record<string, unknown>>;
      if (!view.visible(e.row.machineId) || !tests.every((t) => t(r))) continue;
      out.push(mark(e.row));
      if (out.length === q.limit) break;
    }
    return out;
  }
}
