/**
 * Instance states. `target` is what the user asked for (intent, written by the API with a
 * generation bump); `status` is what the runtime was last observed doing (truth, written only
 * by the reconciler from observations). Predicates live here so no other file re-derives them.
 *
 *   created ──▶ loading ──▶ running ──▶ exited (main process ended; exit code kept)
 *                  ▲           │  ▲
 *                  │           │  └── rebooting (reboot/recycle in progress)
 *                  │           ▼
 *               (start)   stopping ──▶ stopped ──▶ (start) ▶ loading
 *                              │
 *                              └──▶ failed (stop could not complete within its bound)
 *   any ── destroy ──▶ destroyed (tombstone: processes and disk gone, GPUs and ports free)
 */
export const INSTANCE_TARGETS = ['running', 'stopped', 'deleted'] as const;
export type InstanceTarget = (typeof INSTANCE_TARGETS)[number];

export const INSTANCE_STATUSES = ['created', 'loading', 'running', 'rebooting', 'stopping', 'stopped', 'exited', 'failed', 'unknown', 'destroyed'] as const;
export type InstanceStatus = (typeof INSTANCE_STATUSES)[number];

/** A pending one-shot operation requested with a generation (reboot keeps the disk, recycle wipes it). */
export type PendingOp = 'reboot' | 'recycle' | null;

export function isInstanceStatus(s: string): s is InstanceStatus {
  return (INSTANCE_STATUSES as readonly string[]).includes(s);
}

export function isInstanceTarget(s: string): s is InstanceTarget {
  return (INSTANCE_TARGETS as readonly string[]).includes(s);
}

/** Work may still be running: GPUs must stay allocated. */
export function holdsCompute(status: InstanceStatus): boolean {
  return status === 'loading' || status === 'running' || status === 'rebooting' || status === 'stopping' || status === 'failed' || status === 'unknown';
}

/** Nothing runs and nothing will until the user asks again. */
export function isAtRest(status: InstanceStatus): boolean {
  return status === 'stopped' || status === 'exited' || status === 'destroyed';
}

export function isGone(status: InstanceStatus): boolean {
  return status === 'destroyed';
}
