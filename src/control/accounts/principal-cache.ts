import type { ChangeFeed } from '../../store/change-feed.js';
import type { Principal } from '../principal.js';

interface Entry {
  readonly principal: Principal;
  readonly at: number;
}

/**
 * This replica's memory of credentials it authenticated: key hash (or key id, for access tokens) →
 * principal, so a request with a known key costs no store read (docs/decisions/014-principal-cache.md).
 *
 * Invalidation on change, not expiry: every store write that changes what a key may do (a key revoked
 * or reset, a team role edited, a member removed, a team or account deleted) publishes `credential`
 * with the account id whose keys it touched, once committed; this drops every entry that account
 * acts for or as, on this replica at once and on the others through the change feed. `id: null`
 * (the feed lost notifications) drops everything.
 *
 * A lookup that started before an invalidation is not stored when it ends (the epoch moved), so a
 * read racing a revocation cannot put the old principal back. Refusals are never stored: unknown keys
 * are the caller's to choose and would only crowd out real ones. Bounded: least recently used first.
 * `maxAgeMs` is a safety net only, for a notification lost on its way to another replica.
 *
 * Used only while the feed is `current` (PostgreSQL: its listening connection works and proved itself
 * lately): a replica that changes a credential waits for the others to confirm they forgot it, but not
 * for one that cannot hear; that one reads every key from the store, and keeps nothing, until it can.
 */
export class PrincipalCache {
  readonly #entries = new Map<string, Entry>();
  readonly #maxEntries: number;
  readonly #maxAgeMs: number;
  readonly #now: () => number;
  #epoch = 0;
  #current: () => boolean = () => true;

  constructor(o: { readonly maxEntries: number; readonly maxAgeMs: number; readonly now: () => number }) {
    this.#maxEntries = o.maxEntries;
    this.#maxAgeMs = o.maxAgeMs;
    this.#now = o.now;
  }

  /** Listen to credential changes; returns the function that stops listening. */
  follow(feed: Pick<ChangeFeed, 'subscribe' | 'current'>): () => void {
    this.#current = () => feed.current();
    return feed.subscribe('credential', (c) => this.drop(c.id));
  }

  get size(): number {
    return this.#entries.size;
  }

  /**
   * The principal of `key`, from memory or from `load` (which throws for a refused credential; nothing
   * is remembered then). `key` names the credential: `h:<key hash>` or `id:<key id>`.
   */
  async resolve(key: string, load: () => Promise<Principal>): Promise<Principal> {
    if (this.#maxEntries <= 0 || !this.#current()) return load();
    const hit = this.#entries.get(key);
    const now = this.#now();
    if (hit !== undefined && now - hit.at < this.#maxAgeMs) {
      // Most recently used last: Map keeps insertion order, so the first entry is the one to evict.
      this.#entries.delete(key);
      this.#entries.set(key, hit);
      return hit.principal;
    }
    const epoch = this.#epoch;
    const principal = await load();
    // Not while the feed went deaf meanwhile: a change it missed may be older than this read.
    if (epoch === this.#epoch && this.#current()) this.#remember(key, { principal, at: now });
    return principal;
  }

  /** Forget every principal of `accountId` (the account's keys, and keys it holds as a team member); null: all. */
  drop(accountId: number | null): void {
    this.#epoch++;
    if (accountId === null) {
      this.#entries.clear();
      return;
    }
    // A linear pass: credential changes are rare next to requests, and the memory is bounded.
    for (const [k, e] of this.#entries) if (e.principal.accountId === accountId || e.principal.actorId === accountId) this.#entries.delete(k);
  }

  #remember(key: string, e: Entry): void {
    this.#entries.delete(key);
    if (this.#entries.size >= this.#maxEntries) this.#entries.delete(this.#entries.keys().next().value as string);
    this.#entries.set(key, e);
  }
}
