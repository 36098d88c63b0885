import type { Store } from '../../store/store.js';
import type { Clock } from '../clock.js';
import type { MachineRecord } from '../../domain/machine/machine.js';

/**
 * The machine list, read at most once per `ttlMs`. Searches read every machine, and machines change
 * rarely (registration, listing, verification), while a large fleet takes the database a noticeable
 * time to return. GPU allocations are never cached: rented GPUs leave the offers at once. Writes made
 * through this process invalidate the cache; another replica's writes show within `ttlMs`.
 */
export class MachineCatalog {
  readonly #store: Store;
  readonly #clock: Clock;
  readonly #ttlMs: number;
  #cached: { at: number; machines: Promise<MachineRecord[]> } | null = null;

  constructor(store: Store, clock: Clock, ttlMs: number) {
    this.#store = store;
    this.#clock = clock;
    this.#ttlMs = ttlMs;
  }

  list(): Promise<MachineRecord[]> {
    const now = this.#clock.now();
    if (this.#cached === null || now - this.#cached.at >= this.#ttlMs) {
      const machines = this.#store.listMachines(now);
      this.#cached = { at: now, machines };
      // A failed read must not stay cached.
      machines.catch(() => {
        if (this.#cached?.machines === machines) this.#cached = null;
      });
    }
    return this.#cached.machines;
  }

  invalidate(): void {
    this.#cached = null;
  }
}
