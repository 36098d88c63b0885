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

/** The status a person reads: Vast's actual status, or Gantry's own where Vast has none (created, destroyed). */
export const statusOf = (r: InstanceRow): string => r.actual_status ?? r.gantry_status ?? 'unknown';
