import type { MachineRecord } from '../../domain/machine/machine.js';
import { offersOf, type Offer, type OfferType } from '../../domain/offer/offer.js';
import { OfferTable } from '../../domain/offer/offer-table.js';
import type { OfferSearch } from '../../domain/offer/search.js';
import type { Change } from '../../store/change-feed.js';
import type { MachineLoad } from '../../store/offer-source-store.js';
import type { Store } from '../../store/store.js';
import type { Clock } from '../clock.js';

const NO_LOAD: MachineLoad = { gpus: 0, cpuCores: 0, ramMb: 0, renters: [] };
const NONE: ReadonlySet<number> = new Set();
/** Pricings (type and storage size) whose offers are kept at once; the least recently searched goes first. */
const MAX_PRICINGS = 4;
/** Fields judged per search (time) or of no use to offers: a difference in them alone changes no offer. */
const NOT_COMPARED = new Set(['online', 'inMaintenance', 'lastSeenAt', 'gpuUtils']);

export interface OffersIndexOptions {
  /** How often the hosts' heartbeat times are read (0: before each search). */
  readonly seenSyncMs: number;
  /** How often the whole fleet is read again, as a safety net under the change feed. */
  readonly rebuildMs: number;
  readonly onError: (err: unknown) => void;
  /** A read of the fleet worked (after failures: the database is back). */
  readonly onRead?: () => void;
}

interface Held {
  readonly rec: MachineRecord;
  readonly load: MachineLoad;
  lastSeenAt: number;
}

interface Waiter {
  readonly upTo: number;
  readonly resolve: () => void;
  readonly reject: (err: unknown) => void;
}

/**
 * Offers kept in memory and shared by every search of this replica. A published machine change re-reads
 * that machine, an instance change the load of its machine (free GPUs, vCPUs, RAM, who rents there);
 * a resynchronisation (a change with id null, and every `rebuildMs`) reads the whole fleet and applies
 * what differs. Heartbeats are not published (there are too many): their times are read every
 * `seenSyncMs`, and whether a machine is shown (online, listed, outside maintenance) is judged per search.
 * A search waits for the changes this replica heard before it, so a rental is gone from the next search.
 */
export class OffersIndex {
  readonly #store: Store;
  readonly #clock: Clock;
  readonly #opts: OffersIndexOptions;
  readonly #machines = new Map<number, Held>();
  /** Account → machines it rents on: the per-caller mark without a read per search. */
  readonly #renting = new Map<number, Set<number>>();
  readonly #tables = new Map<string, { type: OfferType; storageGb: number; table: OfferTable }>();
  readonly #dirtyMachines = new Set<number>();
  readonly #dirtyInstances = new Set<number>();
  #resync = true;
  #heard = 0;
  #applied = 0;
  #flushing = false;
  #waiters: Waiter[] = [];
  #started = false;
  #stops: (() => void)[] = [];
  #seenAt = -Infinity;
  #sweeping: Promise<void> | null = null;

  constructor(store: Store, clock: Clock, opts: OffersIndexOptions) {
    this.#store = store;
    this.#clock = clock;
    this.#opts = opts;
  }

  /** The answer a full computation (`scanOffers`) gives, from memory. */
  async search(q: OfferSearch, accountId: number): Promise<Offer[]> {
    this.#start();
    await this.#caughtUp();
    if (this.#clock.now() - this.#seenAt > 2 * this.#opts.seenSyncMs) await this.#sweepSeen();
    const now = this.#clock.now();
    const window = this.#store.machineOnlineWindowMs;
    return this.#table(q.type, q.allocatedStorageGb).query(q, {
      visible: (id) => {
        const h = this.#machines.get(id);
        return h !== undefined && shown(h, now, window);
      },
      rentedByCaller: this.#renting.get(accountId) ?? NONE,
    });
  }

  /** Read the fleet and build the default pricing now (at start), so the first search does not pay for it. */
  async warm(type: OfferType, storageGb: number): Promise<void> {
    this.#start();
    await this.#caughtUp();
    this.#table(type, storageGb);
  }

  close(): void {
    for (const stop of this.#stops) stop();
    this.#stops = [];
    this.#started = false;
  }

  #start(): void {
    if (this.#started) return;
    this.#started = true;
    const feed = this.#store.changes;
    this.#stops.push(
      feed.subscribe('machine', (c) => this.#hear(c, this.#dirtyMachines)),
      feed.subscribe('instance-status', (c) => this.#hear(c, this.#dirtyInstances)),
    );
    const timers: NodeJS.Timeout[] = [];
    const sweepSeen = (): Promise<void> => this.#sweepSeen().then(() => this.#opts.onRead?.(), this.#opts.onError);
    if (this.#opts.seenSyncMs > 0) timers.push(setInterval(() => void sweepSeen(), this.#opts.seenSyncMs));
    if (this.#opts.rebuildMs > 0) timers.push(setInterval(() => this.#hear({ topic: 'machine', id: null }, this.#dirtyMachines), this.#opts.rebuildMs));
    for (const t of timers) t.unref(); // a safety net never keeps the process alive
    this.#stops.push(() => timers.forEach(clearInterval));
    this.#hear({ topic: 'machine', id: null }, this.#dirtyMachines); // the first load
  }

  #hear(c: Change, dirty: Set<number>): void {
    if (c.id === null) this.#resync = true;
    else dirty.add(c.id);
    this.#heard++;
    this.#flush();
  }

  /** Resolves once every change heard before the call is applied; rejects when reading it failed. */
  #caughtUp(): Promise<void> {
    if (this.#applied >= this.#heard) return Promise.resolve();
    const upTo = this.#heard;
    const p = new Promise<void>((resolve, reject) => this.#waiters.push({ upTo, resolve, reject }));
    this.#flush();
    return p;
  }

  /** Apply what was heard, one batch at a time (reads and their results stay in order). */
  #flush(): void {
    if (this.#flushing) return;
    this.#flushing = true;
    void (async () => {
      try {
        while (this.#applied < this.#heard) {
          const upTo = this.#heard;
          const resync = this.#resync;
          const machines = [...this.#dirtyMachines];
          const instances = [...this.#dirtyInstances];
          this.#resync = false;
          this.#dirtyMachines.clear();
          this.#dirtyInstances.clear();
          try {
            await (resync ? this.#reload() : this.#update(machines, instances));
          } catch (err) {
            this.#resync = true; // what this batch missed is read again, whole, by the next one
            this.#settle(upTo, err);
            this.#opts.onError(err);
            return;
          }
          this.#applied = upTo;
          this.#settle(upTo, null);
          this.#opts.onRead?.();
        }
      } finally {
        this.#flushing = false;
      }
    })();
  }

  #settle(upTo: number, err: unknown): void {
    const done = this.#waiters.filter((w) => w.upTo <= upTo || err !== null);
    this.#waiters = this.#waiters.filter((w) => !done.includes(w));
    for (const w of done) {
      if (err === null) w.resolve();
      else w.reject(err);
    }
  }

  async #reload(): Promise<void> {
    const started = this.#clock.now();
    const [recs, loads] = await Promise.all([this.#store.listMachines(started), this.#store.machineLoads(null)]);
    this.#seenAt = Math.max(this.#seenAt, started); // every heartbeat time was read, too
    const ids = new Set<number>();
    for (const rec of recs) {
      ids.add(rec.id);
      const load = loads.get(rec.id) ?? NO_LOAD;
      const h = this.#machines.get(rec.id);
      if (h !== undefined && sameMachine(h.rec, rec) && sameLoad(h.load, load)) h.lastSeenAt = Math.max(h.lastSeenAt, rec.lastSeenAt);
      else this.#put(rec.id, rec, load);
    }
    for (const id of [...this.#machines.keys()]) if (!ids.has(id)) this.#put(id, null, NO_LOAD);
  }

  async #update(machineIds: readonly number[], instanceIds: readonly number[]): Promise<void> {
    const ofInstances = await this.#store.machinesOfInstances(instanceIds);
    const loaded = [...new Set([...machineIds, ...ofInstances.values()])];
    const [recs, loads] = await Promise.all([this.#store.machinesById(machineIds, this.#clock.now()), this.#store.machineLoads(loaded)]);
    const read = new Map(recs.map((r) => [r.id, r]));
    for (const id of loaded) {
      // A machine not named by a machine change keeps its record; one this replica does not know yet is left to its own change.
      const rec = machineIds.includes(id) ? (read.get(id) ?? null) : (this.#machines.get(id)?.rec ?? undefined);
      if (rec !== undefined) this.#put(id, rec, loads.get(id) ?? NO_LOAD);
    }
  }

  #put(id: number, rec: MachineRecord | null, load: MachineLoad): void {
    const prev = this.#machines.get(id);
    for (const a of prev?.load.renters ?? []) this.#renting.get(a)?.delete(id);
    if (rec === null) this.#machines.delete(id);
    else {
      this.#machines.set(id, { rec, load, lastSeenAt: Math.max(prev?.lastSeenAt ?? 0, rec.lastSeenAt) });
      for (const a of load.renters) {
        let set = this.#renting.get(a);
        if (set === undefined) this.#renting.set(a, (set = new Set()));
        set.add(id);
      }
    }
    for (const t of this.#tables.values()) t.table.set(id, rec === null ? [] : offersFor(rec, load, t.type, t.storageGb));
  }

  #table(type: OfferType, storageGb: number): OfferTable {
    const key = `${type}/${storageGb}`;
    let t = this.#tables.get(key);
    if (t !== undefined)
      this.#tables.delete(key); // moved to the end: most recently searched
    else {
      const rows = [...this.#machines].map(([id, h]) => [id, offersFor(h.rec, h.load, type, storageGb)] as const);
      t = { type, storageGb, table: new OfferTable(rows) };
    }
    this.#tables.set(key, t);
    for (const k of this.#tables.keys()) if (this.#tables.size > MAX_PRICINGS) this.#tables.delete(k);
    return t.table;
  }

  /** Read which hosts were heard from since the last read (a little before it: writes commit late). */
  #sweepSeen(): Promise<void> {
    this.#sweeping ??= (async () => {
      const started = this.#clock.now();
      const since = this.#seenAt === -Infinity ? 0 : this.#seenAt - this.#opts.seenSyncMs;
      try {
        for (const s of await this.#store.machinesSeenSince(since)) {
          const h = this.#machines.get(s.id);
          if (h !== undefined && s.lastSeenAt > h.lastSeenAt) h.lastSeenAt = s.lastSeenAt;
        }
        this.#seenAt = started;
      } finally {
        this.#sweeping = null;
      }
    })();
    return this.#sweeping;
  }
}

/** A machine's offers whether or not it may be shown now (judged per search). */
function offersFor(rec: MachineRecord, load: MachineLoad, type: OfferType, storageGb: number): Offer[] {
  return offersOf({ ...rec, listed: true, online: true, inMaintenance: false }, rec.numGpus - load.gpus, {
    type,
    allocatedStorageGb: storageGb,
    rentedByCaller: false,
    freeCpuCores: Math.max(0, rec.cpuCores - load.cpuCores),
    freeRamMb: Math.max(0, rec.cpuRamMb - load.ramMb),
  });
}

/** As the store judges `listed`, `online` and `inMaintenance` at `now`. */
function shown(h: Held, now: number, onlineWindowMs: number): boolean {
  const r = h.rec;
  if (!r.listed || (r.endDate !== null && now >= r.endDate) || now - h.lastSeenAt > onlineWindowMs) return false;
  return r.maintenance === null || now < r.maintenance.start || now >= r.maintenance.end;
}

function sameMachine(a: MachineRecord, b: MachineRecord): boolean {
  const x = a as unknown as Record<string, unknown>;
  const y = b as unknown as Record<string, unknown>;
  for (const k of Object.keys(y)) {
    if (NOT_COMPARED.has(k) || x[k] === y[k]) continue;
    if (typeof y[k] !== 'object' || JSON.stringify(x[k]) !== JSON.stringify(y[k])) return false;
  }
  return true;
}

function sameLoad(a: MachineLoad, b: MachineLoad): boolean {
  return a.gpus === b.gpus && a.cpuCores === b.cpuCores && a.ramMb === b.ramMb && a.renters.join() === b.renters.join();
}
