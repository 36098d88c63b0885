/** A machine row as the Vast dialect's `GET /api/v0/machines/` answers it (the fields the page reads). */
export interface MachineRow {
  readonly id: number;
  readonly hostname: string;
  readonly gpu_name: string;
  readonly num_gpus: number;
  readonly gpu_ram: number;
  readonly listed: boolean;
  readonly online: boolean;
  readonly listed_gpu_cost: number | null;
  readonly min_bid_price: number | null;
  /** Epoch seconds. */
  readonly end_date: number | null;
  readonly maintenance: { readonly sdate: number; readonly edate: number; readonly reason: string | null } | null;
  readonly in_maintenance: boolean;
  /** Percent per GPU, as the agent last reported it; null before its first report. */
  readonly gpu_util: readonly number[] | null;
  /** Epoch seconds of the agent's last contact. */
  readonly last_seen: number;
}

/** "12 s ago", "3 min ago", "2 h ago", or the date for anything older than a day. */
export function ago(epochS: number, nowMs: number): string {
  const s = Math.max(0, Math.round(nowMs / 1000 - epochS));
  if (s < 60) return `${s} s ago`;
  if (s < 3600) return `${Math.floor(s / 60)} min ago`;
  if (s < 86_400) return `${Math.floor(s / 3600)} h ago`;
  return new Date(epochS * 1000).toISOString().slice(0, 16).replace('T', ' ');
}

/** An epoch-seconds time as "YYYY-MM-DD HH:MM" UTC. */
export const when = (epochS: number): string => `${new Date(epochS * 1000).toISOString().slice(0, 16).replace('T', ' ')} UTC`;

export const dollars = (v: number | null): string => (v === null ? '-' : `$${v.toFixed(3)}`);

/** The agent's state in words: offline, in maintenance, or online. */
export function agentState(m: MachineRow): 'offline' | 'maintenance' | 'online' {
  if (!m.online) return 'offline';
  return m.in_maintenance ? 'maintenance' : 'online';
}
