import { compare, norm, type Order } from '../query/filter.js';
import type { Offer } from './offer.js';
import { offerFieldType } from './search.js';

/** Rows per block: a change moves at most a block's worth of references, never the whole array. */
const BLOCK = 512;

/**
 * Offers kept in one order, ties broken by offer id: a full computation lists offers by id and sorts
 * stably, so this is the order it answers in. Kept in blocks of a few hundred rows, so that a machine's
 * change (removing and inserting its few rows) costs a search over blocks and a splice inside one.
 * Numbers and booleans compare as the rows hold them; only orders on text or versions keep their
 * normalized keys (a map), so most orders cost one reference per row.
 */
export class SortedRows {
  readonly #fields: readonly string[];
  readonly #desc: readonly boolean[];
  readonly #keys: Map<Offer, unknown[]> | null;
  readonly #block: number;
  #blocks: Offer[][] = [];

  constructor(order: readonly Order[], rows: Iterable<Offer>, block = BLOCK) {
    this.#block = block;
    this.#fields = order.map((o) => o.field);
    this.#desc = order.map((o) => o.dir === 'desc');
    const direct = order.every((o) => {
      const t = offerFieldType(o.field);
      return t === 'number' || t === 'boolean' || t === undefined;
    });
    this.#keys = direct ? null : new Map();
    const all = [...rows];
    for (const r of all) this.#remember(r);
    all.sort((a, b) => this.#cmp(a, b));
    for (let i = 0; i < all.length; i += block) this.#blocks.push(all.slice(i, i + block));
  }

  /** The rows in order, block by block. */
  get blocks(): readonly (readonly Offer[])[] {
    return this.#blocks;
  }

  *rows(): Generator<Offer> {
    for (const block of this.#blocks) yield* block;
  }

  /** This order's comparison (negative: `a` first), for merging rows kept by several of these. */
  readonly compare = (a: Offer, b: Offer): number => this.#cmp(a, b);

  #normalized(row: Offer): unknown[] {
    return this.#fields.map((f) => norm(offerFieldType(f), (row as unknown as Record<string, unknown>)[f]));
  }

  #remember(row: Offer): void {
    this.#keys?.set(row, this.#normalized(row));
  }

  #key(row: Offer, i: number): unknown {
    // A row this one does not hold (compared while merging with another bucket's rows) is normalized here.
    if (this.#keys !== null) return (this.#keys.get(row) ?? this.#normalized(row))[i];
    return (row as unknown as Record<string, unknown>)[this.#fields[i] as string];
  }

  #cmp(a: Offer, b: Offer): number {
    for (let i = 0; i < this.#fields.length; i++) {
      const d = compare(this.#key(a, i), this.#key(b, i));
      if (d !== 0) return this.#desc[i] === true ? -d : d;
    }
    return a.id - b.id;
  }

  /** The block a row belongs in (the first whose last row does not sort before it), and its place there. */
  #locate(row: Offer): [number, number] {
    let lo = 0;
    let hi = this.#blocks.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      const blk = this.#blocks[mid] as Offer[];
      if (this.#cmp(blk[blk.length - 1] as Offer, row) < 0) lo = mid + 1;
      else hi = mid;
    }
    const blk = this.#blocks[lo] as Offer[];
    let a = 0;
    let b = blk.length;
    while (a < b) {
      const mid = (a + b) >> 1;
      if (this.#cmp(blk[mid] as Offer, row) < 0) a = mid + 1;
      else b = mid;
    }
    return [lo, a];
  }

  insert(row: Offer): void {
    this.#remember(row);
    if (this.#blocks.length === 0) {
      this.#blocks.push([row]);
      return;
    }
    const [b, i] = this.#locate(row);
    const blk = this.#blocks[b] as Offer[];
    blk.splice(i, 0, row);
    if (blk.length > 2 * this.#block) this.#blocks.splice(b, 1, blk.slice(0, this.#block), blk.slice(this.#block));
  }

  remove(row: Offer): void {
    if (this.#blocks.length === 0) return;
    const [b, i] = this.#locate(row);
    const blk = this.#blocks[b] as Offer[];
    if (blk[i] === row) blk.splice(i, 1);
    else return; // not held (keys are pure functions of the row, so a held row is always found)
    this.#keys?.delete(row);
    if (blk.length === 0) this.#blocks.splice(b, 1);
  }
}
