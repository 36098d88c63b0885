/**
 * `compute`'s answers kept for the keys asked lately, at most `limit` of them; past it, all are forgotten
 * at once. No recency bookkeeping: the hot paths that use it see a few keys that repeat, and a flood of
 * new keys costs one recomputation each, never unbounded memory.
 */
export function boundedMemo<K, V>(limit: number, compute: (k: K) => V): (k: K) => V {
  const seen = new Map<K, V>();
  return (k) => {
    const v = seen.get(k);
    if (v !== undefined || seen.has(k)) return v as V;
    if (seen.size >= limit) seen.clear();
    const fresh = compute(k);
    seen.set(k, fresh);
    return fresh;
  };
}
