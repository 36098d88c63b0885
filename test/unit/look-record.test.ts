import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ControlContext } from '../../src/control/context.js';
import { told } from '../../src/control/loops/look-record.js';
import type { InstanceRecord } from '../../src/domain/instance/instance.js';
import type { ObservationWrite } from '../../src/store/store.js';

/**
 * What a look's write tells: a new status, and an intent carried out with the status as it was (a worker asked
 * to start and then to stop before it did). An endpoint's stop waits on such a worker (domain/serverless/stop.ts)
 * and hears nothing else of it: without this it waited for its next timed pass.
 */
describe('told: what a look that wrote publishes', () => {
  const published: number[] = [];
  const ctx = {
    store: { changes: { publish: (topic: string, id: number) => void (topic === 'instance-status' && published.push(id)) } },
    log: { child: () => ({ info: () => undefined }) },
    metrics: { instanceTransitions: { inc: () => undefined } },
  } as unknown as ControlContext;
  const inst = { id: 4, status: 'stopped', generation: 3, observedGeneration: 2 } as InstanceRecord;
  const write = (o: Partial<ObservationWrite>): ObservationWrite => ({
    status: 'stopped',
    statusMsg: null,
    exitCode: null,
    observedGeneration: 3,
    pendingOpDone: false,
    now: 0,
    ...o,
  });

  it('a new status, an intent carried out; not a write that carried nothing out with the status as it was', () => {
    told(ctx, inst, write({ status: 'running' }));
    told(ctx, inst, write({}));
    told(ctx, { ...inst, observedGeneration: 3 }, write({ statusMsg: 'a message' }));
    assert.deepEqual(published, [4, 4]);
  });
});
