import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { amountFor, ratesOf } from '../../src/domain/billing/meter.js';
import type { InstanceRecord } from '../../src/domain/instance/instance.js';
import { KyselyStore } from '../../src/store/kysely/kysely-store.js';
import { machineReg, rental } from '../helpers/machines.js';
import { TEST_STORES } from '../helpers/stores.js';

const HOUR = 3_600_000;

/**
 * Two replicas on one database: one records that sixty instances stopped (then were destroyed) while the
 * other settles their meters at times just before, at and after the confirmed stop. Every stretch is charged
 * once: compute up to the stop and not after it (a settle that ran past the stop gives that back), storage
 * until the destroy, and the balance moves by exactly the charges.
 */
for (const ts of TEST_STORES) {
  describe(`settling on one replica while another records stops and destroys (${ts.name})`, { skip: ts.skip }, () => {
    for (const batched of [false, true])
      it(`charges compute up to the stop and storage up to the destroy, once (${batched ? 'many-row' : 'per-row'} write)`, async () => {
        const dir = await mkdtemp(join(tmpdir(), 'gantry-stoprace-'));
        const location = await ts.fresh(dir);
        const a = new KyselyStore(ts.dialect(location));
        await a.migrate();
        // SQLite is one process's store (its replicas would be processes): race the same store there.
        const b = ts.name === 'sqlite' ? a : new KyselyStore(ts.dialect(location));
        try {
          const t0 = 300 * 24 * HOUR + HOUR;
          const renter = await a.createAccount({ username: 'r', email: 'r@x', isAdmin: false, now: t0 });
          const host = await a.createAccount({ username: 'h', email: 'h@x', isAdmin: false, now: t0 });
          await a.transferCredit({ from: null, to: renter.id, amount: 1_000_000, note: null, now: t0 });
          const m = (
            await a.registerMachine({ ...machineReg('stop-race', host.id, 64), portRangeStart: 20_000, portRangeEnd: 29_999, directPortCount: 10_000 }, t0)
          ).id;
          const insts: InstanceRecord[] = [];
          for (let i = 0; i < 60; i++)
            insts.push(
              await a.createInstance(
                rental({
                  accountId: renter.id,
                  machineId: m,
                  now: t0,
                  numGpus: 1,
                  diskGb: 10,
                  dphBase: 1 + i / 10,
                  storageCost: 0.2,
                  target: 'running',
                  instanceKeyHash: (id: number) => `k${id}`,
                }),
              ),
            );
          /** Record `status` for every instance at `t` on replica a while replica b settles at each of `settleAt`. */
          const observe = async (t: number, status: 'running' | 'stopped' | 'destroyed', settleAt: number[]) => {
            const rows = await a.claimInstances({
              owner: 'x',
              now: t,
              leaseMs: 1,
              observeBefore: t + 1,
              limit: 1000,
              dueIds: insts.map((i) => i.id),
              machineIds: [m],
            });
            const token = rows[0]?.leaseToken as string;
            const writes = rows.map((r) => ({
              id: r.id,
              write: { status, statusMsg: null, exitCode: null, observedGeneration: r.generation, pendingOpDone: false, now: t },
            }));
            const settles = settleAt.map((s) => b.settleMeters(s));
            if (batched) await a.applyObservations(token, writes);
            else await Promise.all(writes.map((w) => a.applyObservation(w.id, token, w.write)));
            await Promise.all(settles);
            for (const r of rows) await a.releaseLease(r.id, token, t);
            return rows.length;
          };
          assert.equal(await observe(t0, 'running', []), insts.length);
          const t1 = t0 + HOUR;
          await observe(t1, 'stopped', [t1 - 10, t1, t1 + 10_000, t1 + 5]);
          const t2 = t1 + HOUR;
          await a.settleMeters(t2);
          await observe(t2, 'destroyed', [t2 + 1000, t2 - 1, t2 + 7]);
          await a.settleMeters(t2 + HOUR);
          let total = 0;
          let bad = 0;
          for (const i of insts) {
            const r = ratesOf(i);
            const cs = await a.listCharges(renter.id, { from: 0, to: t2 + 2 * HOUR, limit: 10_000, instanceId: i.id });
            const gpu = cs.filter((c) => c.kind === 'gpu').reduce((s, c) => s + c.amount, 0);
            const disk = cs.filter((c) => c.kind === 'disk').reduce((s, c) => s + c.amount, 0);
            total += gpu + disk;
            const eg = amountFor(r.gpu, HOUR);
            const ed = amountFor(r.disk, 2 * HOUR);
            if (Math.abs(gpu - eg) > 1e-9 || Math.abs(disk - ed) > 1e-9) bad++;
          }
          const bal = (await a.getAccount(renter.id))?.balance as number;
          const earned = (await a.getAccount(host.id))?.balance as number;
          assert.equal(bad, 0, 'every instance: an hour of compute, two of storage');
          assert.ok(Math.abs(1_000_000 - bal - total) < 1e-6, 'the renter paid exactly the charges');
          assert.ok(Math.abs(earned - total) < 1e-6, "the machine's owner earned exactly the charges");
        } finally {
          if (b !== a) await b.close();
          await a.close();
          await rm(dir, { recursive: true, force: true });
        }
      });
  });
}
