import { isolate } from '../../ui/format.js';

/** The fields of Vast's instance listing row (`GET /api/v0/instances/`) the page shows. */
export interface InstanceRow {
  readonly id: number;
  readonly label: string | null;
  readonly image_uuid: string | null;
  readonly actual_status: string | null;
  readonly intended_status: string;
  readonly gantry_status?: string;
  readonly gantry_pending_op?: string | null;
  readonly status_msg: string | null;
  readonly num_gpus: number;
  readonly gpu_name: string | null;
  readonly dph_total: number;
  readonly start_date: number | null;
  readonly machine_id: number;
}

/** What an instance is called in the console: its id, and its label when it has one (isolated: it is the user's text inside our sentences). */
export const nameOf = (r: InstanceRow): string => (r.label !== null && r.label !== '' ? `instance ${r.id} (${isolate(r.label)})` : `instance ${r.id}`);

/**
 * The status a person reads: Vast's actual status, or Gantry's own where Vast has none (created,
 * destroyed) or says less (stopping: Vast's reads running until the runtime confirms the stop).
 */
export const statusOf = (r: InstanceRow): string => (r.gantry_status === 'stopping' ? 'stopping' : (r.actual_status ?? r.gantry_status ?? 'unknown'));

/**
 * Which of start and stop a row offers. Asked to stop, it offers start at once, except while the
 * runtime is still stopping it: the engine refuses a start then ("start it again once it is
 * stopped"), so start waits, disabled, until the stop is confirmed.
 */
export function startOrStop(r: InstanceRow): 'start' | 'stop' | 'wait' {
  const s = statusOf(r);
  if (s === 'stopped' || s === 'exited' || s === 'failed') return 'start';
  if (r.intended_status !== 'stopped') return 'stop';
  return r.gantry_status === 'stopping' || r.gantry_status === 'running' ? 'wait' : 'start';
}
