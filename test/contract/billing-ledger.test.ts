import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { amountFor, meters, ratesOf } from '../../src/domain/billing/meter.js';
import type { InstanceStatus } from '../../src/domain/instance/status.js';
import { KyselyStore } from '../../src/store/kysely/kysely-store.js';
import type { NewInstance } from '../../src/store/store.js';
import { machineReg, rental as plainRental } from '../helpers/machines.js';
import { TEST_STORES } from '../helpers/stores.js';
import type { InstanceRecord } from '../../src/domain/instance/instance.js';

/** A small deterministic generator, so a failing sequence can be replayed from its seed. */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

/** A rental as the store takes it; the test picks sizes and prices. */
function rental(
  accountId: number,
  machineId: number,
  now: number,
  o: Pick<NewInstance, 'numGpus' | 'diskGb' | 'dphBase' | 'storageCost' | 'target' | 'instanceKeyHash'>,
): NewInstance {
  return plainRental({ accountId, machineId, now, ...o });
}

const LIVE: readonly InstanceStatus[] = ['loading', 'running', 'running', 'stopping', 'stopped', 'exited', 'failed', 'rebooting', 'unknown'];

/**
 * The ledger property: on a controllable clock, random start/stop/destroy sequences with settling and
 * control-plane restarts (a new store on the same database) in between. The charges of every instance
 * must equal the integral of (billed state × price) over its transitions, no compute is charged for a
 * stretch where the instance was not running, and balances move by exactly the charges.
 */
for (const ts of TEST_STORES) {
  describe(`billing ledger property (${ts.name})`, { skip: ts.skip }, () => {
    let dir: string;
    let location: string;
    let store: KyselyStore;
    before(async () => {
      dir = await mkdtemp(join(tmpdir(), 'gantry-ledger-'));
      location = await ts.fresh(dir);
      store = new KyselyStore(ts.dialect(location));
      await store.migrate();
    });
    after(async () => {
      await store.close();
      await rm(dir, { recursive: true, force: true });
    });

    for (const seed of [1, 2, 3, 4]) {
      it(`seed ${seed}: charges equal the integral of state × price, across restarts`, async () => {
        const rand = rng(seed);
        let t = 1_000_000 + seed * 10_000_000;
        const renter = await store.createAccount({ username: `renter${seed}`, email: `r${seed}@x`, isAdmin: false, now: t });
        const host = await store.createAccount({ username: `host${seed}`, email: `h${seed}@x`, isAdmin: false, now: t });
        await store.transferCredit({ from: null, to: renter.id, amount: 10_000, note: null, now: t });
        const machineId = (await store.registerMachine(machineReg(`ledger-${seed}`, host.id, 8), t)).id;
        const log = new Map<number, { at: number; status: InstanceStatus }[]>();
        const rec = new Map<number, InstanceRecord>();
        const newInstance = (now: number): NewInstance =>
          rental(renter.id, machineId, now, {
            numGpus: 1,
            diskGb: 1 + Math.floor(rand() * 50),
            dphBase: Math.round(rand() * 400) / 100,
            storageCost: 0.1 + Math.round(rand() * 30) / 100,
            target: 'running',
            instanceKeyHash: (id) => `ledger-${seed}-${id}`,
          });
        // Every other observation goes through the many-row write (the reconciler's recording of what a sweep
        // saw), with a second instance when there is one: its meters must book exactly what the per-row write books.
        let batched = false;
        const observe = async (seen: readonly (readonly [number, InstanceStatus])[]): Promise<void> => {
          const ids = seen.map(([id]) => id);
          const rows = await store.claimInstances({
            owner: 'test',
            now: t,
            leaseMs: 1,
            observeBefore: t + 1,
            limit: 100,
            dueIds: ids,
            machineIds: [machineId],
          });
          const token = rows[0]?.leaseToken as string;
          const writes = seen.map(([id, status]) => {
            const row = rows.find((r) => r.id === id);
            assert.ok(row?.leaseToken, `instance ${id} claimable at ${t}`);
            return { id, write: { status, statusMsg: null, exitCode: null, observedGeneration: row.generation, pendingOpDone: false, now: t } };
          });
          if (batched)
            assert.deepEqual(
              await store.applyObservations(token, writes),
              writes.map(() => true),
            );
          else for (const w of writes) assert.ok(await store.applyObservation(w.id, token, w.write));
          for (const [id, status] of seen) {
            await store.releaseLease(id, token, t);
            log.get(id)?.push({ at: t, status });
          }
        };
        const anyStatus = (): InstanceStatus => LIVE[Math.floor(rand() * LIVE.length)] as InstanceStatus;

        for (let step = 0; step < 60; step++) {
          t += 2 + Math.floor(rand() * 900_000);
          const live = [...log.entries()].filter(([, l]) => l.at(-1)?.status !== 'destroyed').map(([id]) => id);
          const r = rand();
          if (live.length < 3 && r < 0.2) {
            const inst = await store.createInstance(newInstance(t));
            rec.set(inst.id, inst);
            log.set(inst.id, [{ at: t, status: 'created' }]);
          } else if (r < 0.3) {
            await store.settleMeters(t);
          } else if (r < 0.36) {
            // A control-plane restart: every open meter lives in the database, nothing in memory.
            await store.close();
            store = new KyselyStore(ts.dialect(location));
            await store.migrate();
          } else if (live.length > 0) {
            const id = live[Math.floor(rand() * live.length)] as number;
            const seen: [number, InstanceStatus][] = [[id, r < 0.4 ? 'destroyed' : anyStatus()]];
            batched = !batched;
            const other = live.find((o) => o !== id);
            if (batched && other !== undefined) seen.push([other, anyStatus()]);
            await observe(seen);
          }
        }
        t += 1_000;
        await store.settleMeters(t);

        let total = 0;
        for (const [id, entries] of log) {
          const inst = rec.get(id) as InstanceRecord;
          const rates = ratesOf(inst);
          const expected = { gpu: 0, disk: 0 };
          for (let i = 0; i < entries.length; i++) {
            const e = entries[i] as { at: number; status: InstanceStatus };
            const end = entries[i + 1]?.at ?? t;
            const m = meters(e.status);
            if (m.gpu) expected.gpu += amountFor(rates.gpu, end - e.at);
            if (m.disk) expected.disk += amountFor(rates.disk, end - e.at);
          }
          const charges = await store.listCharges(renter.id, { from: 0, to: t + 1, limit: 100_000, instanceId: id });
          for (const kind of ['gpu', 'disk'] as const) {
            const got = charges.filter((c) => c.kind === kind).reduce((s, c) => s + c.amount, 0);
            assert.ok(
              Math.abs(got - expected[kind]) < 1e-9 * Math.max(1, expected[kind]),
              `instance ${id} ${kind}: charged ${got}, integral ${expected[kind]}`,
            );
          }
          // No compute is charged for any moment the instance was not running.
          for (const c of charges.filter((x) => x.kind === 'gpu')) {
            for (let i = 0; i < entries.length; i++) {
              const e = entries[i] as { at: number; status: InstanceStatus };
              const end = entries[i + 1]?.at ?? t;
              const overlap = Math.min(end, c.end) - Math.max(e.at, c.start);
              if (overlap > 0) assert.ok(meters(e.status).gpu, `gpu charged while ${e.status}`);
            }
          }
          total += charges.reduce((s, c) => s + c.amount, 0);
        }
        const after = (id: number) => store.getAccount(id).then((a) => a?.balance as number);
        assert.ok(Math.abs((await after(renter.id)) - (10_000 - total)) < 1e-6, 'the renter paid exactly the charges');
        assert.ok(Math.abs((await after(host.id)) - total) < 1e-6, "the machine's owner earned exactly the charges");
        const earned = await store.listEarnings(host.id, { from: 0, to: t + 1, limit: 100_000 });
        assert.ok(Math.abs(earned.reduce((s, c) => s + c.amount, 0) - total) < 1e-6);
      });
    }

    for (const batched of [false, true]) {
      it(`a stop recorded late, at the time the runtime confirmed it, gives back what a settle charged after it (${batched ? 'many-row' : 'per-row'} write)`, async () => {
        // The reconciler's record of a confirmed stop failed (the database gone) and was applied again at the
        // confirmation's time, after a billing pass settled the meter further (unwritten-looks.ts).
        const t = 8_000_000_000 + (batched ? 100_000_000 : 0);
        const tag = batched ? 'late-b' : 'late-r';
        const renter = await store.createAccount({ username: `${tag}-r`, email: `${tag}r@x`, isAdmin: false, now: t });
        const host = await store.createAccount({ username: `${tag}-h`, email: `${tag}h@x`, isAdmin: false, now: t });
        await store.transferCredit({ from: null, to: renter.id, amount: 100, note: null, now: t });
        const m = (await store.registerMachine(machineReg(`${tag}-host`, host.id, 2), t)).id;
        const inst = await store.createInstance(
          rental(renter.id, m, t, { numGpus: 1, diskGb: 10, dphBase: 3.6, storageCost: 0, target: 'running', instanceKeyHash: () => `${tag}-key` }),
        );
        const write = async (status: InstanceStatus, now: number, at: number): Promise<void> => {
          const [row] = await store.claimInstances({ owner: 'test', now: at, leaseMs: 1, observeBefore: at + 1, limit: 1, dueIds: [inst.id], machineIds: [m] });
          const token = row?.leaseToken as string;
          const w = { status, statusMsg: null, exitCode: null, observedGeneration: inst.generation, pendingOpDone: false, now };
          if (batched) assert.deepEqual(await store.applyObservations(token, [{ id: inst.id, write: w }]), [true]);
          else assert.ok(await store.applyObservation(inst.id, token, w));
          await store.releaseLease(inst.id, token, at);
        };
        await write('running', t, t);
        await store.settleMeters(t + 2_000);
        await store.settleMeters(t + 9_000); // the database is back: billing settles before the reconciler writes
        await write(batched ? 'exited' : 'stopped', t + 4_000, t + 10_000);
        await store.settleMeters(t + 20_000);
        const gpu = (await store.listCharges(renter.id, { from: 0, to: t + 100_000, limit: 100, instanceId: inst.id })).filter((c) => c.kind === 'gpu');
        const paid = gpu.reduce((s, c) => s + c.amount, 0);
        assert.ok(Math.abs(paid - amountFor(3.6, 4_000)) < 1e-12, `compute charged up to the confirmed stop only: ${paid}`);
        assert.ok(
          gpu.every((c) => c.end <= t + 4_000),
          'no charge row runs past the confirmed stop',
        );
        const balance = async (id: number) => (await store.getAccount(id))?.balance as number;
        assert.ok(Math.abs((await balance(renter.id)) - (100 - paid)) < 1e-9, 'the renter paid exactly the charges');
        assert.ok(Math.abs((await balance(host.id)) - paid) < 1e-9, "the machine's owner earned exactly the charges");
      });
    }

    it("a stretch across midnight is booked per UTC day: each day's statement holds that day's time, no row in two days", async () => {
      const DAY = 86_400_000;
      const midnight = 400 * DAY;
      // Created at 23:00; the first settle comes 26 hours later (the control plane was away), the next an hour after.
      const t0 = midnight - 3_600_000;
      const a = await store.createAccount({ username: 'night', email: 'night@x', isAdmin: false, now: t0 });
      const m = (await store.registerMachine(machineReg('night-host', a.id, 2), t0)).id;
      const inst = await store.createInstance(
        rental(a.id, m, t0, { numGpus: 0, diskGb: 100, dphBase: 1, storageCost: 1, target: 'stopped', instanceKeyHash: () => 'night-key' }),
      );
      await store.settleMeters(t0 + 26 * 3_600_000);
      await store.settleMeters(t0 + 27 * 3_600_000);
      const rate = ratesOf(inst).disk;
      const hours = [1, 24, 2];
      for (const [n, h] of hours.entries()) {
        const from = midnight + (n - 1) * DAY;
        const day = await store.listCharges(a.id, { from, to: from + DAY, limit: 100, instanceId: inst.id });
        assert.equal(day.length, 1, `day ${n}: one row (the later settle extended it)`);
        assert.ok(
          day.every((c) => c.start >= from && c.end <= from + DAY),
          `day ${n}: its row lies within the day`,
        );
        assert.ok(Math.abs((day[0]?.amount ?? 0) - amountFor(rate, h * 3_600_000)) < 1e-9, `day ${n}: ${h} hours of storage`);
      }
    });

    it('settling twice at once (two replicas) never charges a stretch twice', async () => {
      const t = 9_000_000_000;
      const a = await store.createAccount({ username: 'race', email: 'race@x', isAdmin: false, now: t });
      const m = (await store.registerMachine(machineReg('race-host', a.id, 2), t)).id;
      // SQLite is one process's store (its replicas would be processes): race the same store there.
      const other = ts.name === 'sqlite' ? store : new KyselyStore(ts.dialect(location));
      try {
        const inst = await store.createInstance(
          rental(a.id, m, t, { numGpus: 0, diskGb: 100, dphBase: 1, storageCost: 1, target: 'stopped', instanceKeyHash: () => 'race-key' }),
        );
        await Promise.all([store.settleMeters(t + 3_600_000), other.settleMeters(t + 3_600_000), store.settleMeters(t + 3_600_000)]);
        const charges = await store.listCharges(a.id, { from: 0, to: t + 10_000_000, limit: 100, instanceId: inst.id });
        assert.equal(charges.length, 1);
        assert.ok(Math.abs((charges[0]?.amount ?? 0) - ratesOf(inst).disk) < 1e-9, 'one hour of storage, once');
      } finally {
        if (other !== store) await other.close();
      }
    });
  });
}
