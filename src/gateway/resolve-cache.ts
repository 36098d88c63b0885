import type { ResolvedEndpoint } from '../control/serverless/routing.js';

/** The most callers remembered; past it the cache starts afresh (a flood of keys cannot grow it). */
const MAX_ENTRIES = 10_000;

/**
 * Who may call which endpoint: three store reads per request would dominate the proxy. Forgotten on
 * every credential or endpoint change (`forget`, from the change feed); `resolveMs` is only the safety net.
 */
export class ResolveCache {
  readonly #resolved = new Map<string, { at: number; value: ResolvedEndpoint }>();
  readonly #resolveMs: number;
  /** Bumped by `forget`: a resolve that began before it is not remembered. */
  #epoch = 0;
  /** Whether this replica hears every change now (ChangeFeed.current): if not, nothing remembered is used or kept. */
  readonly #current: () => boolean;

  constructor(resolveMs: number, current: () => boolean = () => true) {
    this.#resolveMs = resolveMs;
    this.#current = current;
  }

  /** What the cache knows of `k` within its safety net, or undefined. */
  known(k: string, now = Date.now()): ResolvedEndpoint | undefined {
    const hit = this.#resolved.get(k);
    return hit !== undefined && now - hit.at < this.#resolveMs && this.#current() ? hit.value : undefined;
  }

  async cached(k: string, resolve: () => Promise<ResolvedEndpoint>): Promise<ResolvedEndpoint> {
    const now = Date.now();
    const known = this.known(k, now);
    if (known !== undefined) return known;
    const epoch = this.#epoch;
    const value = await resolve();
    // A change heard while this was read (a key revoked after it was checked): answer this request, remember nothing.
    if (epoch !== this.#epoch || !this.#current()) return value;
    if (this.#resolved.size >= MAX_ENTRIES) this.#resolved.clear();
    this.#resolved.set(k, { at: now, value });
    return value;
  }

  /** A key, a team or an endpoint changed somewhere: the next request of every caller resolves afresh. */
  forget(): void {
    this.#epoch++;
    this.#resolved.clear();
  }
}

/** The cache key of a caller's rights to an endpoint. */
export const callerKey = (name: string, key: string | null): string => `${name}\u0000${key ?? ''}`;
