import type { PushEvent } from './push.js';

/**
 * Reads of one list (or record) that pushed changes keep current. A read answers what the server held
 * when it read, which may be older than a push heard while the read was under way: its answer would
 * undo that push until the record changed again. So the pushes heard during the latest read are applied
 * again on top of its answer, in the order heard (each carries its record whole, so the last one of a
 * record wins, as it did when it was heard). A read begun later answers for an earlier one still under
 * way: the earlier answer is dropped, whenever it comes.
 */
export class LiveRead {
  #latest = 0;
  #heard: PushEvent[] | null = null;

  /** A read begins; answers its ticket. */
  begin(): number {
    this.#heard = [];
    return ++this.#latest;
  }

  /** A push was heard (and applied to what is shown): kept while a read is under way. */
  heard(e: PushEvent): void {
    this.#heard?.push(e);
  }

  /**
   * The read with `ticket` answered `data`: null when a later read was begun (its answer counts), else
   * the data with the pushes heard meanwhile applied by `apply`.
   */
  answered<T>(ticket: number, data: T, apply: (d: T, e: PushEvent) => T): { readonly data: T } | null {
    if (ticket !== this.#latest) return null;
    const heard = this.#heard ?? [];
    this.#heard = null;
    return { data: heard.reduce(apply, data) };
  }

  /** The read with `ticket` failed: whether it was the latest (a later one answers instead). */
  failed(ticket: number): boolean {
    if (ticket !== this.#latest) return false;
    this.#heard = null;
    return true;
  }
}
