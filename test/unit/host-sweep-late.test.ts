import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ControlContext } from '../../src/control/context.js';
import type { HostListing } from '../../src/control/hosts/hosts.js';
import { HostSweep, type SweepReport } from '../../src/control/loops/host-sweep.js';
import { GantryError } from '../../src/domain/errors.js';
import { until } from '../helpers/serverless.js';
import type { SweptInstance } from '../../src/domain/instance/sweep.js';

/**
 * The host sweep with a host slow to list (decision 017, "a slow host"): the sweep compares the hosts that
 * answered within sweepListWaitMs and returns; the slow host's listing is compared when it comes, its lease
 * held until then, and this replica does not claim or ask it again meanwhile. The store here is a stub that
 * records the sweep's calls and lets every claim take every host offered (as if leases had lapsed), so what
 * keeps the slow host out is the sweep itself; the store's leases are the contract suites'.
 */

/** A host whose `observeAll` answers at once, or is held until the test lets it answer (or fail). */
class FakeHost {
  readonly imageNotice = null;
  observed: NonNullable<HostListing['observed']> = [];
  asked = 0;
  readonly destroyed: number[] = [];
  #held: { resolve: () => void; reject: (e: unknown) => void } | null = null;
  #holding = false;

  hold(): void {
    this.#holding = true;
  }
  /** The held listing answers (with what `observed` says then), or fails with `err`. */
  release(err?: unknown): void {
    this.#holding = false;
    const h = this.#held;
    this.#held = null;
    if (err === undefined) h?.resolve();
    else h?.reject(err);
  }
  get pending(): boolean {
    return this.#held !== null;
  }

  async observeAll(): Promise<HostListing> {
    this.asked++;
    if (this.#holding) await new Promise<void>((resolve, reject) => (this.#held = { resolve, reject }));
    return { ids: this.observed.map((w) => w.id), observed: [...this.observed] };
  }
  async list(): Promise<number[]> {
    return this.observed.map((w) => w.id);
  }
  async inspect(): Promise<{ state: 'absent' }> {
    return { state: 'absent' };
  }
  async destroy(id: number): Promise<{ state: 'absent' }> {
    this.destroyed.push(id);
    this.observed = this.observed.filter((w) => w.id !== id);
    return { state: 'absent' };
  }
}

const row = (id: number, machineId: number): SweptInstance => ({
  id,
  machineId,
  target: 'running',
  status: 'running',
  generation: 1,
  observedGeneration: 1,
  pendingOp: null,
  gpuWaitSince: null,
  statusMsg: null,
  exitCode: null,
  startDate: 1,
  lastProcessedAt: 0,
  leaseExpiresAt: null,
});

function setUp(hosts: Map<number, FakeHost>, rows: SweptInstance[] = []) {
  const calls = {
    claims: [] as number[][],
    reads: [] as number[][],
    finished: [] as [token: string, ids: number[]][],
    handedOver: [] as number[],
    late: [] as SweepReport[],
    outcomes: { swept: 0, failed: 0 } as Record<string, number>,
  };
  let tokens = 0;
  const silent: Record<string, unknown> = { error: () => undefined, warn: () => undefined, info: () => undefined, debug: () => undefined };
  silent.child = () => silent;
  const ctx = {
    clock: { now: () => Date.now() },
    settings: { observeIntervalMs: 0, heartbeatIntervalMs: 1_000, agentCallTimeoutMs: 60_000, leaseMs: 5_000, stopGraceMs: 0, sweepListWaitMs: 10 },
    log: silent,
    metrics: { hostSweeps: { inc: (l: { outcome: string }, n = 1) => void (calls.outcomes[l.outcome] = (calls.outcomes[l.outcome] ?? 0) + n) } },
    hosts: { sweepCandidates: () => [...hosts.keys()], get: (id: number) => hosts.get(id) },
    store: {
      claimHostSweeps: async (o: { machineIds: readonly number[] }) => {
        calls.claims.push([...o.machineIds]);
        return { token: `t${++tokens}`, machineIds: [...o.machineIds] };
      },
      sweptInstances: async (machineIds: readonly number[]) => {
        calls.reads.push([...machineIds]);
        return { rows: rows.filter((r) => machineIds.includes(r.machineId)), resting: new Map() };
      },
      finishHostSweeps: async (token: string, machineIds: readonly number[]) => void calls.finished.push([token, [...machineIds]]),
      getInstance: async () => undefined,
    },
  } as unknown as ControlContext;
  const sweep = new HostSweep(
    ctx,
    'owner',
    (id) => calls.handedOver.push(id),
    (r) => calls.late.push(r),
  );
  return { sweep, calls };
}

/** A sweep in a later millisecond than the last (observeIntervalMs 0: a host swept this very millisecond is not due). */
async function sweepLater(sweep: HostSweep): Promise<SweepReport> {
  const t = Date.now();
  while (Date.now() <= t) await new Promise((r) => setTimeout(r, 1));
  return sweep.sweepDue();
}

describe('host sweep: a host slow to list', { timeout: 20_000 }, () => {
  it('holds up only itself: the others are swept again and again meanwhile, it is not asked again, and its late listing is compared', async () => {
    const fast = new FakeHost();
    const slow = new FakeHost();
    fast.observed = [
      { id: 11, observation: { state: 'running' } }, // an orphan: no instance owns it
      { id: 12, observation: { state: 'exited', exitCode: 1 } }, // its instance is running in the store: handed over
    ];
    slow.observed = [{ id: 21, observation: { state: 'running' } }]; // an orphan
    slow.hold();
    const { sweep, calls } = setUp(
      new Map([
        [1, fast],
        [2, slow],
      ]),
      [row(12, 1)],
    );

    const first = await sweepLater(sweep);
    assert.deepEqual(
      { hosts: first.hosts, late: first.late, failed: first.failed, handedOver: first.handedOver },
      { hosts: 1, late: 1, failed: 0, handedOver: 1 },
    );
    assert.ok(slow.pending, 'the slow listing is still awaited');
    assert.deepEqual(calls.finished, [['t1', [1]]], 'only the host that answered is stamped and released');
    assert.deepEqual(calls.reads, [[1]], 'its instances read; the slow host’s not yet (listings first)');
    await until('the fast host’s orphan removed', () => fast.destroyed.includes(11));

    for (let i = 0; i < 3; i++) {
      const r = await sweepLater(sweep);
      assert.deepEqual({ hosts: r.hosts, late: r.late }, { hosts: 1, late: 0 }, `sweep ${i + 2}: the fast host only`);
    }
    assert.deepEqual(calls.claims, [[1, 2], [1], [1], [1]], 'the slow host is left out of this replica’s claims while its listing is awaited');
    assert.equal(slow.asked, 1, 'asked once');
    assert.equal(fast.asked, 4);
    assert.deepEqual(calls.handedOver, [12, 12, 12, 12], 'the fast host’s changed instance handed over at every sweep');
    assert.deepEqual(slow.destroyed, []);
    assert.deepEqual(calls.late, []);

    slow.release();
    await sweep.caughtUp();
    assert.deepEqual(calls.reads.at(-1), [2], 'its instances read after its listing came');
    assert.deepEqual(calls.finished.at(-1), ['t1', [2]], 'stamped and released under the claim that took it');
    assert.deepEqual(calls.late, [{ asked: 0, hosts: 1, failed: 0, late: 0, handedOver: 0, orphans: 1 }]);
    assert.deepEqual(calls.outcomes, { swept: 5, failed: 0 }, 'each host counted once per sweep of it');
    await sweep.settled();
    assert.deepEqual(slow.destroyed, [21], 'its orphan removed');

    await sweepLater(sweep);
    assert.deepEqual(calls.claims.at(-1), [1, 2], 'claimed again once its sweep ended');
    assert.equal(slow.asked, 2);
  });

  it('a late listing that fails counts as failed and releases the host; a chunk that answers in time waits no longer', async () => {
    const fast = new FakeHost();
    const slow = new FakeHost();
    slow.hold();
    const { sweep, calls } = setUp(
      new Map([
        [1, fast],
        [2, slow],
      ]),
    );
    const r = await sweepLater(sweep);
    assert.deepEqual({ hosts: r.hosts, late: r.late, failed: r.failed }, { hosts: 1, late: 1, failed: 0 });
    slow.release(new GantryError('HOST_UNAVAILABLE', 'the host left'));
    await sweep.settled();
    assert.deepEqual(calls.late, [{ asked: 0, hosts: 0, failed: 1, late: 0, handedOver: 0, orphans: 0 }]);
    assert.deepEqual(calls.finished, [
      ['t1', [1]],
      ['t1', [2]],
    ]);
    assert.deepEqual(calls.reads, [[1]], 'nothing read for a host that did not answer');
    assert.deepEqual(calls.outcomes, { swept: 1, failed: 1 });

    const again = await sweepLater(sweep);
    assert.deepEqual({ hosts: again.hosts, late: again.late }, { hosts: 2, late: 0 });
    assert.deepEqual(calls.finished.at(-1), ['t2', [1, 2]], 'both answered in time: one read, one stamp');
    assert.deepEqual(calls.reads.at(-1), [1, 2]);
  });
});
