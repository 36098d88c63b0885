import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ControlContext } from '../../src/control/context.js';
import { InstanceReconciler } from '../../src/control/loops/instance-reconciler.js';
import { GantryError } from '../../src/domain/errors.js';
import type { InstanceRecord } from '../../src/domain/instance/instance.js';

/**
 * The instance reconciler's log while the database is gone, around the two calls that fail then: the lease
 * heartbeat and the host sweep's claim. The store here is a stub of those calls (the real ones are the store
 * contract suites', the outage itself test/system/postgres-outage); the reconciler, its heartbeat, its sweep
 * and their FailureLogs are the real ones, on real timers shrunk through the settings.
 */
type Line = [level: string, msg: string];

function recorder(): { lines: Line[]; log: ControlContext['log'] } {
  const lines: Line[] = [];
  const at =
    (level: string) =>
    (a: unknown, b?: string): void =>
      void lines.push([level, typeof a === 'string' ? a : String(b)]);
  const log: Record<string, unknown> = { error: at('error'), warn: at('warn'), info: at('info'), debug: at('debug') };
  log.child = () => log;
  return { lines, log: log as unknown as ControlContext['log'] };
}

const SETTINGS = {
  leaseMs: 150, // a beat every 50 ms
  reconcileIdleMs: 10,
  reconcileRetryMaxMs: 20,
  reconcileConcurrency: 4,
  reconcileBatch: 4,
  observationMaxAgeMs: 1_000,
  agentCallTimeoutMs: 1_000,
  heartbeatIntervalMs: 1_000,
};

function reconcilerWith(store: Record<string, unknown>, hosts: Record<string, unknown>, settings: Record<string, number>) {
  const { lines, log } = recorder();
  const ctx = {
    store: { changes: { subscribe: () => () => undefined }, claimInstances: async () => [], ...store },
    hosts: { machineIds: () => [7], sweepCandidates: () => [], get: () => undefined, ...hosts },
    clock: { now: () => Date.now() },
    settings: { ...SETTINGS, ...settings },
    log,
    metrics: { reconcileSteps: { inc: () => undefined }, hostSweeps: { inc: () => undefined } },
  } as unknown as ControlContext;
  return { reconciler: new InstanceReconciler(ctx), lines };
}

async function until(what: string, ok: () => boolean, timeoutMs = 5_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!ok()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

const said = (lines: Line[], msg: string): number => lines.filter(([, m]) => m === msg).length;

describe('the instance reconciler while the database is gone', () => {
  it('logs a lease heartbeat that keeps failing once, not once per beat, and when it works again', async () => {
    let down = true;
    let renewals = 0;
    let claimed = false;
    const held: { release?: () => void } = {};
    const renewed: number[][] = [];
    // One instance in work the whole time: its host's answer is held until the end.
    const inst = { id: 1, machineId: 7, leaseToken: 't' } as unknown as InstanceRecord;
    const host = {
      inspect: () =>
        new Promise((_, reject) => {
          held.release = () => reject(new GantryError('HOST_UNAVAILABLE', 'gone'));
        }),
    };
    const { reconciler, lines } = reconcilerWith(
      {
        claimInstances: async () => (claimed ? [] : ((claimed = true), [inst])),
        extendLeases: async (_owner: string, ids: number[]) => {
          renewed.push(ids);
          renewals++;
          if (down) throw new Error('connect ECONNREFUSED 127.0.0.1:5432');
        },
        releaseLease: async () => undefined,
      },
      { get: () => host },
      { observeIntervalMs: 3_600_000 },
    );
    reconciler.start();
    try {
      await until('ten failed renewals', () => renewals >= 10);
      assert.ok(
        renewed.every((ids) => ids.length === 1 && ids[0] === 1),
        'the lease of the instance in work',
      );
      assert.equal(said(lines, 'renewing leases failed'), 1, JSON.stringify(lines));
      assert.equal(lines.filter(([level]) => level === 'error' || level === 'warn').length, 1, JSON.stringify(lines));
      down = false;
      await until('works again', () => said(lines, 'renewing leases works again') === 1);
      assert.equal(said(lines, 'renewing leases failed (still)'), 0);
    } finally {
      await until('the instance in work', () => held.release !== undefined);
      held.release?.();
      await reconciler.stop();
    }
  });

  it('counts a sweep that found no host due as working: a later failure is a new one, not "(still)"', async () => {
    let mode: 'down' | 'none' = 'down';
    let claims = 0;
    const { reconciler, lines } = reconcilerWith(
      {
        claimHostSweeps: async () => {
          claims++;
          if (mode === 'down') throw new Error('connect ECONNREFUSED 127.0.0.1:5432');
          return { token: '', machineIds: [] };
        },
      },
      { sweepCandidates: () => [7] },
      { observeIntervalMs: 10 },
    );
    reconciler.start();
    try {
      await until('three failed sweeps', () => claims >= 3);
      assert.equal(said(lines, 'sweeping hosts failed'), 1, JSON.stringify(lines));
      mode = 'none';
      await until('the sweep works again with no host due', () => said(lines, 'sweeping hosts works again') === 1);
      mode = 'down';
      await until('the next outage logged as a new one', () => said(lines, 'sweeping hosts failed') === 2);
      assert.equal(said(lines, 'sweeping hosts failed (still)'), 0, JSON.stringify(lines));
    } finally {
      mode = 'none';
      await reconciler.stop();
    }
  });

  it('says nothing of a sweep that asked the database nothing (no connected host)', async () => {
    let claims = 0;
    const { reconciler, lines } = reconcilerWith(
      {
        claimHostSweeps: async () => {
          claims++;
          throw new Error('connect ECONNREFUSED 127.0.0.1:5432');
        },
      },
      { sweepCandidates: () => (claims === 0 ? [7] : []) },
      { observeIntervalMs: 10 },
    );
    reconciler.start();
    try {
      await until('one failed sweep', () => claims === 1);
      await new Promise((r) => setTimeout(r, 200));
      assert.equal(claims, 1, 'no candidate, no claim');
      assert.deepEqual(
        lines.filter(([, m]) => m.startsWith('sweeping hosts')),
        [['error', 'sweeping hosts failed']],
      );
    } finally {
      await reconciler.stop();
    }
  });
});
