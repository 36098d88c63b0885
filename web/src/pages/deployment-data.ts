import { useEffect, useState } from 'preact/hooks';
import { api } from '../api.js';

/** A deployment as `GET /console/api/deployments[/:id]` answers it. */
export interface Deployment {
  readonly id: number;
  readonly uid: string;
  readonly name: string;
  readonly tag: string;
  readonly api: string;
  readonly endpoint_id: number;
  readonly endpoint_name: string;
  readonly state: string;
  readonly target: string;
  readonly status_msg: string | null;
  readonly stop_phase: string | null;
  readonly created_at: number;
  readonly workers: readonly { id: number; phase: string; machine_id: number; status: string; error: string | null }[];
  readonly workers_by_state: Readonly<Record<string, number>>;
  readonly min_workers: number;
  readonly max_workers: number;
  readonly queue: number;
  readonly held_elsewhere: number;
  readonly in_flight: number;
  readonly request_rate: number;
  readonly stop: { answered: number; failed: number; rejected: number; drain_timed_out: boolean };
  readonly decisions: readonly Decision[];
}

export interface Decision {
  readonly at: number;
  readonly active_target: number;
  readonly total_target: number;
  readonly started: number;
  readonly created: number;
  readonly stopped: number;
  readonly destroyed: number;
  readonly reason: string;
  readonly refused: string | null;
}

/** Which API made it, in words. */
export const API_NAMES: Readonly<Record<string, string>> = {
  vast: 'Vast serverless',
  'vast-code': 'Vast code deployment',
  aicore: 'SAP AI Core',
  elasticsearch: 'Elasticsearch',
};

/** How often the page reads its deployments again while it is shown (the live view of queue and workers). */
export const REFRESH_MS = 1_000;

export const workersText = (by: Readonly<Record<string, number>>): string =>
  Object.keys(by).length === 0
    ? 'none'
    : Object.entries(by)
        .sort(([a], [b]) => a.localeCompare(b))
        .map(([k, n]) => `${n} ${k}`)
        .join(', ');

/**
 * Reads `path` now and again every REFRESH_MS, and at once when `bump` changes (after an action).
 * An error is kept and shown; the last good answer stays on screen meanwhile.
 */
export function useLive<T>(path: string, bump: number): { data: T | null; error: unknown; loaded: boolean } {
  const [data, setData] = useState<T | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [loaded, setLoaded] = useState(false);
  useEffect(() => {
    let live = true;
    const load = async (): Promise<void> => {
      try {
        const d = await api<T>('GET', path);
        if (!live) return;
        setData(d);
        setError(null);
      } catch (err) {
        if (live) setError(err);
      }
      if (live) setLoaded(true);
    };
    void load();
    const t = setInterval(() => void load(), REFRESH_MS);
    return () => {
      live = false;
      clearInterval(t);
    };
  }, [path, bump]);
  return { data, error, loaded };
}
