import { useCallback, useEffect, useRef, useState } from 'preact/hooks';

export interface Resource<T> {
  readonly data: T | null;
  readonly error: unknown;
  readonly loading: boolean;
  /** Load again (after an action changed it); the shown data stays until the new answer is in. */
  readonly reload: () => void;
}

/**
 * Data a page section reads from the API: loaded on mount and when `deps` change, again every
 * `everyMs` (values the server changes on its own, such as an agent's last contact), and on reload().
 * An answer that arrives after a newer request started is dropped.
 */
export function useResource<T>(load: (signal: AbortSignal) => Promise<T>, deps: readonly unknown[] = [], everyMs: number | null = null): Resource<T> {
  const [data, setData] = useState<T | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [loading, setLoading] = useState(true);
  const [tick, setTick] = useState(0);
  const seq = useRef(0);
  useEffect(() => {
    const mine = ++seq.current;
    const ac = new AbortController();
    setLoading(true);
    load(ac.signal)
      .then((d) => {
        if (mine !== seq.current) return;
        setData(d);
        setError(null);
      })
      .catch((err: unknown) => {
        if (mine === seq.current && !(err instanceof DOMException && err.name === 'AbortError')) setError(err);
      })
      .finally(() => {
        if (mine === seq.current) setLoading(false);
      });
    return () => ac.abort();
    // `load` is a new closure every render; what it reads is in deps.
  }, [...deps, tick]);
  useEffect(() => {
    if (everyMs === null) return;
    const t = setInterval(() => setTick((n) => n + 1), everyMs);
    return () => clearInterval(t);
  }, [everyMs]);
  const reload = useCallback(() => setTick((n) => n + 1), []);
  return { data, error, loading, reload };
}
