import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { SweptLook } from '../../src/control/loops/host-sweep.js';
import { SweptLooks } from '../../src/control/loops/swept-looks.js';
import type { ReconcileInput } from '../../src/domain/instance/reconcile.js';

/** When the per-instance path records from what the sweep saw instead of inspecting (decision 017). */
const MAX_AGE = 5000;
const row = (over: Partial<ReconcileInput> = {}): ReconcileInput & { id: number } => ({
  id: 1,
  target: 'running',
  status: 'running',
  generation: 2,
  observedGeneration: 2,
  pendingOp: null,
  gpuWaitSince: null,
  ...over,
});
const exitedLook = (over: Partial<SweptLook> = {}): SweptLook => ({
  observation: { state: 'exited', exitCode: 3 },
  at: 1000,
  row: row(),
  ...over,
});
const taken = (looks: SweptLooks, inst = row(), now = 1500): unknown => looks.take(inst, now, MAX_AGE);

describe('swept looks', () => {
  it('a fresh look at the row the sweep compared stands for an inspect, once', () => {
    const looks = new SweptLooks();
    looks.handOver(1, exitedLook());
    assert.deepEqual(taken(looks), { state: 'exited', exitCode: 3 });
    assert.equal(taken(looks), null, 'used up: the next look inspects');
  });

  const inspected: [string, (l: SweptLooks) => void, ReconcileInput & { id: number }, number][] = [
    ['nothing handed over', () => undefined, row(), 1500],
    ['a bare-id sweep (no look) then a hint', (l) => l.hinted(1, 900), row(), 1500],
    ['stale: as old as observationMaxAgeMs', (l) => l.handOver(1, exitedLook()), row(), 1000 + MAX_AGE],
    ['a hint (an exit reported, an intent) after the listing', (l) => (l.handOver(1, exitedLook()), l.hinted(1, 1200)), row(), 1500],
    ['an older listing handed over after a hint', (l) => (l.hinted(1, 1200), l.handOver(1, exitedLook())), row(), 1500],
    ['the row moved on: another generation (a request since)', (l) => l.handOver(1, exitedLook()), row({ generation: 3, observedGeneration: 3 }), 1500],
    ['the row moved on: another status (another look recorded it)', (l) => l.handOver(1, exitedLook()), row({ status: 'exited' }), 1500],
    ['a request not carried out', (l) => l.handOver(1, exitedLook({ row: row({ generation: 3 }) })), row({ generation: 3 }), 1500],
    [
      'the look would take a step (stop what runs against a stopped intent)',
      (l) => l.handOver(1, exitedLook({ observation: { state: 'running' } })),
      row({ target: 'stopped' }),
      1500,
    ],
  ];
  for (const [name, given, inst, now] of inspected)
    it(`inspects: ${name}`, () => {
      const looks = new SweptLooks();
      given(looks);
      assert.equal(taken(looks, inst, now), null);
    });

  it('a later listing replaces an earlier one and a hint before it; forgotten ids keep nothing', () => {
    const looks = new SweptLooks();
    looks.hinted(1, 900);
    looks.handOver(1, exitedLook({ observation: { state: 'absent' } }));
    looks.handOver(1, exitedLook({ at: 1100 }));
    assert.deepEqual(taken(looks), { state: 'exited', exitCode: 3 });
    looks.handOver(1, exitedLook());
    looks.forget([1]);
    assert.equal(taken(looks), null);
  });
});
