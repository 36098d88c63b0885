import { useEffect, useState } from 'preact/hooks';
import { api } from '../api.js';
import { LiveRead } from '../live-read.js';
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

/** What one path answered (data or error), kept with that path. */
interface Loaded<T> {
  readonly path: string;
  readonly data: T | null;
  readonly error: unknown;
}

/**
 * Read once, then again at every (re)connection of the push channel and after an action (`bump`).
 * The answer is kept with the path it is for: when the path changes (another deployment's id) the
 * old one's data and error are not shown while the new one loads, nor kept if it fails. Pushes heard
 * while a read is under way are applied again on its answer (LiveRead).
 */
function useLoad<T>(path: string, bump: number, apply: (d: T | null, e: PushEvent) => T | null) {
  const [got, setGot] = useState<Loaded<T> | null>(null);
  useEffect(() => {
    let live = true;
    const reads = new LiveRead();
    const load = async (): Promise<void> => {
      const ticket = reads.begin();
      try {
        const answer = reads.answered<T | null>(ticket, await api<T>('GET', path), apply);
        if (live && answer !== null) setGot({ path, data: answer.data, error: null });
      } catch (err) {
        // A reload that fails after an action keeps what this path showed; another path's data is never kept.
        if (live && reads.failed(ticket)) setGot((old) => ({ path, data: old?.path === path ? old.data : null, error: err }));
      }
    };
    const pushed = (e: PushEvent): void => {
      if (e.id === null) return void load();
      reads.heard(e);
      setGot((old) => (old === null || old.path !== path ? old : { ...old, data: apply(old.data, e) }));
    };
    void load();
    const stops = [push.subscribe('deployment', pushed), push.onHello(() => void load())];
    return () => {
      live = false;
      for (const stop of stops) stop();
    };
  }, [path, bump]);
  const mine = got !== null && got.path === path ? got : null;
  return { data: mine?.data ?? null, error: mine?.error ?? null, loaded: mine !== null };
}

/** Every deployment of the account, kept current by the push channel (a pushed row replaces its own; null: deleted). */
export function useDeployments(): { data: Deployment[] | null; error: unknown; loaded: boolean } {
  const r = useLoad<{ deployments: Deployment[] }>('/console/api/deployments', 0, (d, e) => {
    if (d === null) return d;
    const row = e.row as Deployment | null | undefined;
    const rest = d.deployments.filter((x) => x.endpoint_id !== e.id);
    return { deployments: row === null || row === undefined ? rest : [...rest, row] };
  });
  return { ...r, data: r.data?.deployments ?? null };
}

/** One deployment, kept current by the push channel (data null once loaded, without an error: it was deleted meanwhile). */
export function useDeployment(id: number, bump: number): { data: Deployment | null; error: unknown; loaded: boolean } {
  return useLoad<Deployment>(`/console/api/deployments/${id}`, bump, (d, e) => {
    const row = e.row as Deployment | null | undefined;
    if (row !== null && row !== undefined) return row.id === id ? row : d;
    return d !== null && d.endpoint_id === e.id ? null : d;
  });
}
