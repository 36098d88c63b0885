import type { PushEvent } from './push.js';

/**
 * Reads of one list (or record) that pushed changes keep current. A read answers what the server held
 * when it read, which may be older than a push heard while the read was under way: its answer would
 * undo that push until the record changed again. So the pushes heard since a read began are applied
 * again on top of its answer, in the order heard (each carries its record whole, so the last one of a
 * record wins, as it did when it was heard). An answer is dropped when a read begun later has answered
 * already; an earlier read still counts while the later ones have not answered (one may fail).
 */
export class LiveRead {
  #began = 0;
  #lastAnswered = 0;
  /** Pushes heard while a read is under way, numbered; and where each read under way began in that count. */
  #pushes: { readonly n: number; readonly e: PushEvent }[] = [];
  #heardCount = 0;
  readonly #startOf = new Map<number, number>();

  /** A read begins; answers its ticket. */
  begin(): number {
    this.#startOf.set(++this.#began, this.#heardCount);
    return this.#began;
  }

  /** A push was heard (and applied to what is shown): kept while a read is under way. */
  heard(e: PushEvent): void {
    this.#heardCount++;
    if (this.#startOf.size > 0) this.#pushes.push({ n: this.#heardCount, e });
  }

  /**
   * The read with `ticket` answered `data`: null when a read begun later answered already (its answer
   * counts), else the data with the pushes heard since this read began applied by `apply`.
   */
  answered<T>(ticket: number, data: T, apply: (d: T, e: PushEvent) => T): { readonly data: T } | null {
    const start = this.#startOf.get(ticket);
    const fresh = start !== undefined && ticket > this.#lastAnswered;
    const replayed = fresh ? this.#pushes.filter((p) => p.n > start).reduce((d, p) => apply(d, p.e), data) : data;
    // Reads begun before this one answer older data: theirs are dropped when they come.
    for (const t of this.#startOf.keys()) if (t <= ticket) this.#startOf.delete(t);
    this.#prune();
    if (!fresh) return null;
    this.#lastAnswered = ticket;
    return { data: replayed };
  }

  /** The read with `ticket` failed: whether that is news (no read begun later answered already). */
  failed(ticket: number): boolean {
    // Reads begun before it may still answer, and count.
    this.#startOf.delete(ticket);
    this.#prune();
    return ticket > this.#lastAnswered;
  }

  /** Keep only the pushes a read still under way needs. */
  #prune(): void {
    const oldest = Math.min(...this.#startOf.values());
    this.#pushes = this.#pushes.filter((p) => p.n > oldest);
  }
}

/**
 * Read one record (`read`) while pushes may come for it: every read under way is in `under`, whose
 * pushes the page feeds (`heard`); those of this record heard meanwhile are applied on its answer, so a
 * read that the server answered before a push does not undo it. Null: a push said it is gone meanwhile.
 */
export async function readRecord<T>(under: Set<LiveRead>, id: number, read: () => Promise<T>): Promise<T | null> {
  const reads = new LiveRead();
  under.add(reads);
  try {
    const ticket = reads.begin();
    const answer = reads.answered<T | null>(ticket, await read(), (d, e) => (e.id === id ? ((e.row as T | null | undefined) ?? null) : d));
    return answer?.data ?? null;
  } finally {
    under.delete(reads);
  }
}
