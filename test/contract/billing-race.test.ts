import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { amountFor, ratesOf } from '../../src/domain/billing/meter.js';
import type { InstanceRecord } from '../../src/domain/instance/instance.js';
import { KyselyStore } from '../../src/store/kysely/kysely-store.js';
import { SETTLE_BATCH } from '../../src/store/kysely/meter-batch.js';
import { machineReg, rental } from '../helpers/machines.js';
import { TEST_STORES } from '../helpers/stores.js';

const HOUR = 3_600_000;
/** More instances than one settling batch holds, so settlers race across batch boundaries too. */
const INSTANCES = SETTLE_BATCH + 150;

/**
 * Settlers racing over the same meters (two stores on one PostgreSQL: two replicas), many times, at
 * clocks that run ahead of each other: every stretch is charged once, so each meter's charges add up
 * to rate × time, each meter keeps one ledger row for the day, and balances move by exactly the charges.
 */
for (const ts of TEST_STORES) {
  describe(`set-based settlement under racing settlers (${ts.name})`, { skip: ts.skip }, () => {
    let dir: string;
    let location: string;
    let a: KyselyStore;
    let b: KyselyStore;
    before(async () => {
      dir = await mkdtemp(join(tmpdir(), 'gantry-billrace-'));
      location = await ts.fresh(dir);
      a = new KyselyStore(ts.dialect(location));
      await a.migrate();
      // SQLite is one process's store (its replicas would be processes): race the same store there.
      b = ts.name === 'sqlite' ? a : new KyselyStore(ts.dialect(location));
    });
    after(async () => {
      if (b !== a) await b.close();
      await a.close();
      await rm(dir, { recursive: true, force: true });
    });

    it('charges each stretch once: the sum of charges is rate × time', async () => {
      const day = 200 * 24 * HOUR;
      const t0 = day + HOUR;
      const renters = await Promise.all([1, 2, 3].map((n) => a.createAccount({ username: `r${n}`, email: `r${n}@x`, isAdmin: false, now: t0 })));
      const hosts = await Promise.all([1, 2].map((n) => a.createAccount({ username: `h${n}`, email: `h${n}@x`, isAdmin: false, now: t0 })));
      for (const r of renters) await a.transferCredit({ from: null, to: r.id, amount: 1_000_000, note: null, now: t0 });
      const machines = [];
      for (const [n, h] of hosts.entries())
        machines.push(
          // Every rental holds a port (its SSH): room for all of them.
          (
            await a.registerMachine(
              { ...machineReg(`race-${n}`, h.id, 2), portRangeStart: 20_000 + n * 5_000, portRangeEnd: 24_999 + n * 5_000, directPortCount: 5_000 },
              t0,
            )
          ).id,
        );
      const insts: InstanceRecord[] = [];
      for (let i = 0; i < INSTANCES; i++) {
        insts.push(
          await a.createInstance(
            rental({
              accountId: (renters[i % renters.length] as { id: number }).id,
              machineId: machines[i % machines.length] as number,
              now: t0,
              numGpus: 0,
              diskGb: 10 + (i % 90),
              dphBase: 0,
              storageCost: 0.05 + (i % 7) / 100,
              target: 'stopped',
              instanceKeyHash: () => `race-${i}`,
            }),
          ),
        );
      }

      // Each round: several settlers at once, the replicas' clocks a little apart (either may be ahead).
      let end = t0;
      for (let round = 1; round <= 4; round++) {
        const ta = t0 + round * HOUR;
        const tb = ta + (round % 2 === 0 ? 1_000 : -1_000);
        await Promise.all([a.settleMeters(ta), b.settleMeters(tb), a.settleMeters(ta), b.settleMeters(tb)]);
        end = Math.max(end, ta, tb);
      }
      // A settler skips (or loses) the meters another one is settling, so after a race a meter ends where either
      // left it; one more settle, alone, brings every meter to the same end: any stretch charged twice shows.
      end += HOUR;
      await a.settleMeters(end);

      const hostOf = new Map(machines.map((m, n) => [m, (hosts[n] as { id: number }).id]));
      const expected = new Map<number, number>();
      let total = 0;
      for (const r of renters) {
        const charges = await a.listCharges(r.id, { from: 0, to: end + 1, limit: 100_000 });
        const mine = insts.filter((i) => i.accountId === r.id);
        assert.equal(charges.length, mine.length, 'one ledger row per meter for the day, extended, never a second');
        const byInstance = new Map(charges.map((c) => [c.instanceId, c]));
        for (const inst of mine) {
          const c = byInstance.get(inst.id);
          const want = amountFor(ratesOf(inst).disk, end - t0);
          assert.ok(c, `instance ${inst.id} charged`);
          assert.equal(c.start, t0);
          assert.equal(c.end, end);
          assert.ok(Math.abs(c.amount - want) < 1e-9 * Math.max(1, want), `instance ${inst.id}: charged ${c.amount}, rate × time ${want}`);
          const host = hostOf.get(inst.machineId) as number;
          expected.set(host, (expected.get(host) ?? 0) + c.amount);
          expected.set(r.id, (expected.get(r.id) ?? 0) - c.amount);
          total += c.amount;
        }
      }
      assert.ok(total > 0);
      for (const [id, delta] of expected) {
        const start = renters.some((r) => r.id === id) ? 1_000_000 : 0;
        const balance = (await a.getAccount(id))?.balance as number;
        assert.ok(Math.abs(balance - (start + delta)) < 1e-6, `account ${id}: balance ${balance}, expected ${start + delta}`);
      }
    });
  });
}
