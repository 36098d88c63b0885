import type { InstanceRecord } from '../../domain/instance/instance.js';
import type { InstanceStatus } from '../../domain/instance/status.js';
import type { ObservationWrite } from '../../store/store.js';

/** Kept records at most; the oldest go first (a row whose next look runs at another replica is never asked for). */
const MAX_KEPT = 10_000;

/** What of the row a kept record is matched against. */
type Row = Pick<InstanceRecord, 'id' | 'generation' | 'status'>;

interface Kept {
  /** The row as the failed write found it: a later look stands for the same moment only while it is unchanged. */
  readonly generation: number;
  readonly from: InstanceStatus;
  readonly status: InstanceStatus;
  /** When the runtime's report was taken. */
  readonly at: number;
}

/**
 * The time of a look's record whose write failed (the database gone at that moment), kept for the row's next
 * look. A meter opens and closes at the record's `now`, "the moment the runtime's report was taken": a stop
 * the runtime confirmed at T whose write failed was recorded by the retry at the retry's own time, and the
 * GPU was charged for the seconds the database was away. The retry re-observes (the truth may have moved on);
 * when it records the same status from the same row (same generation, same status before), nothing happened
 * in between that it could have missed, and its write is applied at T. A billing pass that settled the meter
 * past T meanwhile gives that stretch back in the same write (`refundPast`, store/kysely/meter.ts).
 * Per replica: a host's rows are looked at by the replica its agent is connected to (claims take connected
 * hosts only), so the retry finds what was kept unless the agent moved to another replica in between.
 */
export class UnwrittenLooks {
  readonly #rows = new Map<number, Kept>();

  /**
   * `write` at the kept time when it records what the failed write would have from the same row; what was
   * kept is used up by any look of the row, one that records nothing too (the runtime seen otherwise since:
   * a later record must not take the old time).
   */
  apply<W extends ObservationWrite | null>(inst: Row, write: W): W {
    const k = this.#rows.get(inst.id);
    if (k === undefined) return write;
    this.#rows.delete(inst.id);
    if (write === null) return write;
    if (k.generation !== inst.generation || k.from !== inst.status || k.status !== write.status || k.at > write.now) return write;
    return { ...write, now: k.at, ...(write.startDate !== undefined ? { startDate: k.at } : {}) };
  }

  /** The write of `inst`'s record threw: keep its time for the next look (an earlier kept one stands, `apply` gave it). */
  failed(inst: Row, write: ObservationWrite): void {
    this.#rows.delete(inst.id);
    this.#rows.set(inst.id, { generation: inst.generation, from: inst.status, status: write.status, at: write.now });
    if (this.#rows.size > MAX_KEPT) this.#rows.delete(this.#rows.keys().next().value as number);
  }

  /**
   * Apply `write` through `apply` with `store`'s write; when that throws, `failed`, and the error goes on.
   * A look that records nothing (null) writes nothing and answers true, having used up what was kept.
   */
  async write<T>(inst: Row, write: ObservationWrite | null, store: (w: ObservationWrite) => Promise<T>): Promise<T | true> {
    const w = this.apply(inst, write);
    if (w === null) return true;
    try {
      return await store(w);
    } catch (err) {
      this.failed(inst, w);
      throw err;
    }
  }
}
