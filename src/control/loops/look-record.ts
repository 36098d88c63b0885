import type { InstanceRecord } from '../../domain/instance/instance.js';
import type { RecordAfterLook } from '../../domain/instance/observed-record.js';
import type { RuntimeStep } from '../../domain/instance/reconcile.js';
import type { InstanceStatus } from '../../domain/instance/status.js';
import type { ObservationWrite } from '../../store/store.js';
import type { ControlContext } from '../context.js';

/**
 * What a look writes after its step (`recordAfterLook`), shared by the reconciler's look at one row and its
 * recording of many rows from the sweep's observations. Null: a plain look that changes nothing writes
 * nothing (releasing the lease stamps the time).
 */
export function lookWrite(inst: InstanceRecord, step: RuntimeStep, rec: RecordAfterLook, now: number): ObservationWrite | null {
  const unchanged =
    step === 'none' &&
    rec.status === inst.status &&
    rec.statusMsg === inst.statusMsg &&
    rec.exitCode === inst.exitCode &&
    inst.observedGeneration === inst.generation;
  if (unchanged) return null;
  return {
    status: rec.status,
    statusMsg: rec.statusMsg,
    exitCode: rec.exitCode,
    observedGeneration: inst.generation,
    pendingOpDone: step === 'restart' || step === 'recycle',
    ...(rec.started ? { startDate: now } : {}),
    now,
  };
}

/**
 * After a look's write: a new status is announced; an intent carried out with the status as it was (a worker
 * asked to start, then to stop before it did: `stopped` to `stopped`) is published too, for whoever waits on
 * that intent (an endpoint's stop counts such a worker as moving until then: `domain/serverless/stop.ts`).
 */
export function told(ctx: ControlContext, inst: InstanceRecord, write: ObservationWrite): void {
  if (write.status !== inst.status) announce(ctx, inst, write.status, write.statusMsg);
  else if (write.observedGeneration > inst.observedGeneration) ctx.store.changes.publish('instance-status', inst.id);
}

/** A status change recorded: the `instance-status` change others wait on, one info line, the transition metric. */
export function announce(ctx: ControlContext, inst: InstanceRecord, to: InstanceStatus, reason?: string | null): void {
  ctx.store.changes.publish('instance-status', inst.id);
  const line = { from: inst.status, to, generation: inst.generation, ...(reason !== undefined ? { reason } : {}) };
  ctx.log.child({ instanceId: inst.id }).info(line, 'instance status');
  ctx.metrics.instanceTransitions.inc({ to });
}
