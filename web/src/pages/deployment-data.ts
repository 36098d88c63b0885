import { useEffect, useState } from 'preact/hooks';
import { api } from '../api.js';
import { push, type PushEvent } from '../push.js';

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

export const workersText = (by: Readonly<Record<string, number>>): string =>
  Object.keys(by).length === 0
    ? 'none'
    : Object.entries(by)
        .sort(([a], [b]) => a.localeCompare(b))
        .map(([k, n]) => `${n} ${k}`)
        .join(', ');

/** Read once, then again at every (re)connection of the push channel and after an action (`bump`). */
function useLoad<T>(path: string, bump: number, apply: (e: PushEvent, set: (f: (d: T | null) => T | null) => void) => void) {
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
    const stops = [push.subscribe('deployment', (e) => (e.id === null ? void load() : apply(e, setData))), push.onHello(() => void load())];
    return () => {
      live = false;
      for (const stop of stops) stop();
    };
  }, [path, bump]);
  return { data, error, loaded };
}

/** Every deployment of the account, kept current by the push channel (a pushed row replaces its own; null: deleted). */
export function useDeployments(): { data: Deployment[] | null; error: unknown; loaded: boolean } {
  const r = useLoad<{ deployments: Deployment[] }>('/console/api/deployments', 0, (e, set) =>
    set((d) => {
      if (d === null) return d;
      const row = e.row as Deployment | null | undefined;
      const rest = d.deployments.filter((x) => x.endpoint_id !== e.id);
      return { deployments: row === null || row === undefined ? rest : [...rest, row] };
    }),
  );
  return { ...r, data: r.data?.deployments ?? null };
}

/** One deployment, kept current by the push channel. */
export function useDeployment(id: number, bump: number): { data: Deployment | null; error: unknown; loaded: boolean } {
  return useLoad<Deployment>(`/console/api/deployments/${id}`, bump, (e, set) =>
    set((d) => {
      const row = e.row as Deployment | null | undefined;
      if (row !== null && row !== undefined) return row.id === id ? row : d;
      return d !== null && d.endpoint_id === e.id ? null : d;
    }),
  );
}
