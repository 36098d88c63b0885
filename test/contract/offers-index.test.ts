import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { OffersIndex } from '../../src/control/fleet/offers-index.js';
import { scanOffers } from '../../src/control/fleet/search-offers.js';
import type { OfferType } from '../../src/domain/offer/offer.js';
import type { OfferSearch } from '../../src/domain/offer/search.js';
import type { Condition, Order } from '../../src/domain/query/filter.js';
import { KyselyStore } from '../../src/store/kysely/kysely-store.js';
import type { NewInstance } from '../../src/store/store.js';
import { machineReg } from '../helpers/machines.js';
import { ManualClock } from '../helpers/manual-clock.js';
import { TEST_STORES } from '../helpers/stores.js';

const SEED = Number(process.env.GANTRY_TEST_SEED ?? 17);
const STEPS = 160;
const ONLINE_WINDOW_MS = 60_000;

/** A small deterministic PRNG (mulberry32): a failure names its seed and repeats. */
function prng(seed: number): { int: (n: number) => number; pick: <T>(xs: readonly T[]) => T; chance: (p: number) => boolean } {
  let a = seed >>> 0;
  const next = (): number => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (n: number): number => Math.floor(next() * n);
  return { int, pick: (xs) => xs[int(xs.length)] as (typeof xs)[number], chance: (p) => next() < p };
}

const GPU_NAMES = ['RTX 4090', 'A100', 'H100 SXM', 'RTX 3090'];
const GEOS = ['US', 'CA', 'DE', 'local'];

/** A random search over the fields the Vast query language filters and orders on most, and some it rarely does. */
function randomSearch(r: ReturnType<typeof prng>): OfferSearch {
  const conditions: Condition[] = [];
  if (r.chance(0.4)) {
    const name = r.pick(GPU_NAMES);
    conditions.push({ field: 'gpuName', op: 'eq', value: r.chance(0.5) ? name : name.replace(/ /g, '_').toLowerCase() });
  }
  if (r.chance(0.15)) conditions.push({ field: 'gpuName', op: 'in', value: [r.pick(GPU_NAMES), r.pick(GPU_NAMES)] });
  if (r.chance(0.4)) conditions.push({ field: 'numGpus', op: r.pick(['eq', 'gte', 'lte'] as const), value: r.pick([0, 1, 2, 4, 8]) });
  if (r.chance(0.3)) conditions.push({ field: 'dphTotal', op: 'lte', value: r.int(40) / 10 });
  if (r.chance(0.3)) conditions.push({ field: 'reliability', op: 'gte', value: 0.9 + r.int(10) / 100 });
  if (r.chance(0.25)) conditions.push({ field: 'geolocation', op: r.pick(['in', 'notin'] as const), value: [r.pick(GEOS), r.pick(GEOS)] });
  if (r.chance(0.2)) conditions.push({ field: 'verified', op: 'eq', value: r.chance(0.5) });
  if (r.chance(0.15)) conditions.push({ field: 'rentedByCaller', op: 'eq', value: r.chance(0.5) });
  if (r.chance(0.1)) conditions.push({ field: 'cpuCores', op: 'gte', value: r.int(16) });
  const orders: (readonly Order[])[] = [
    [],
    [{ field: 'dphTotal', dir: 'asc' }],
    [{ field: 'score', dir: 'desc' }],
    [
      { field: 'numGpus', dir: 'asc' },
      { field: 'dphTotal', dir: 'asc' },
    ],
    [{ field: 'reliability', dir: 'desc' }],
    [{ field: 'gpuName', dir: 'asc' }],
    [{ field: 'rentedByCaller', dir: 'desc' }],
    [{ field: 'driverVersion', dir: 'desc' }],
  ];
  return {
    conditions,
    order: r.pick(orders),
    limit: r.chance(0.3) ? null : r.pick([0, 1, 3, 10, 64]),
    type: r.pick<OfferType>(['on-demand', 'on-demand', 'bid', 'reserved']),
    allocatedStorageGb: r.pick([5, 5, 5, 10, 64]),
  };
}

/** The index against a full computation: random machine, listing, heartbeat, rental and destroy changes. */
for (const ts of TEST_STORES) {
  describe(`offers index answers as a full computation (${ts.name})`, { skip: ts.skip }, () => {
    let dir: string;
    let store: KyselyStore;
    const clock = new ManualClock(1_000_000_000);

    before(async () => {
      dir = await mkdtemp(join(tmpdir(), 'gantry-offers-index-'));
      store = new KyselyStore(ts.dialect(await ts.fresh(dir)), { machineOnlineWindowMs: ONLINE_WINDOW_MS });
      await store.migrate();
    });
    after(async () => {
      await store.close();
      await rm(dir, { recursive: true, force: true });
    });

    it(`random changes, many random searches, the same answers (seed ${SEED})`, async () => {
      const r = prng(SEED);
      const accounts: number[] = [];
      for (const n of ['a', 'b', 'c']) accounts.push((await store.createAccount({ username: n, email: `${n}@x`, isAdmin: false, now: 1 })).id);
      const machines: number[] = [];
      const instances: number[] = [];
      // A host says hello again for the account it first joined (a machine never changes hands by a hello).
      const owners = new Map<string, number>();
      const register = async (hostKey: string): Promise<void> => {
        const numGpus = r.pick([0, 1, 2, 4, 8]);
        const picked = r.pick(accounts);
        const owner = owners.get(hostKey) ?? picked;
        owners.set(hostKey, owner);
        const m = await store.registerMachine(
          {
            ...machineReg(hostKey, owner, numGpus),
            gpuName: r.pick(GPU_NAMES),
            cpuCores: r.pick([2, 8, 16]),
            priceGpuPerHour: 0.1 + r.int(30) / 10,
            minChunk: r.pick([1, 1, 2]),
            reliability: 0.9 + r.int(10) / 100,
            geolocation: r.pick(GEOS),
            driverVersion: r.pick([null, '535.104.05', '550.54.14']),
            verified: r.chance(0.7),
          },
          clock.now(),
        );
        if (!machines.includes(m.id)) machines.push(m.id);
      };
      for (let i = 0; i < 6; i++) await register(`host-${i}`);
      // Started after the first machines: it reads them whole, then follows changes.
      const index = new OffersIndex(store, clock, { seenSyncMs: 0, rebuildMs: 0, onError: () => undefined });
      const rent = (machineId: number, accountId: number, numGpus: number): NewInstance => ({
        accountId,
        machineId,
        numGpus,
        image: 'img',
        env: {},
        requestedPorts: [],
        onstart: null,
        entrypoint: null,
        args: null,
        runtype: 'ssh',
        label: null,
        diskGb: 10,
        offerType: 'on-demand',
        bidPrice: null,
        dphBase: 0.3,
        storageCost: 0.1,
        target: r.chance(0.9) ? 'running' : 'stopped',
        instanceKeyHash: (id) => `hash-${id}`,
        cpuCores: numGpus === 0 ? r.pick([1, 2]) : undefined,
        ramMb: numGpus === 0 ? 1000 : undefined,
        now: clock.now(),
      });
      /** What the reconciler does once the runtime confirmed a stop or a destroy: claim the row, apply, let go. */
      const observe = async (id: number, status: 'stopped' | 'destroyed'): Promise<void> => {
        const now = clock.now();
        const [row] = await store.claimInstances({ owner: 'test', now, leaseMs: 1, observeBefore: now + 1, limit: 1, dueIds: [id], machineIds: undefined });
        if (row?.id !== id || row.leaseToken === null) return;
        await store.applyObservation(id, row.leaseToken, {
          status,
          statusMsg: null,
          exitCode: null,
          observedGeneration: row.generation,
          pendingOpDone: true,
          now,
        });
        await store.releaseLease(id, row.leaseToken, now);
      };
      const change = async (): Promise<string> => {
        const m = r.pick(machines);
        switch (r.int(13)) {
          case 0:
            await register(`host-${machines.length}`);
            return 'register';
          case 1:
            await register(`host-${r.int(machines.length)}`); // the host's hello again, maybe with other hardware
            return 're-register';
          case 2:
            await store.setListing(m, {
              listed: true,
              priceGpuPerHour: 0.1 + r.int(30) / 10,
              minChunk: r.pick([1, 2]),
              endDate: r.chance(0.3) ? clock.now() + r.int(120_000) : null,
            });
            return 'list';
          case 3:
            await store.setListing(m, { listed: false });
            return 'unlist';
          case 4: {
            const start = clock.now() + r.int(60_000) - 30_000;
            await store.setMaintenance(m, r.chance(0.7) ? { start, end: start + r.int(90_000), reason: null } : null);
            return 'maintenance';
          }
          case 5:
            await store.setMachineVerified(m, r.chance(0.5));
            return 'verify';
          case 6:
            await store.recordHeartbeat(m, { now: clock.now(), gpuUtils: null, usage: [] });
            return 'heartbeat';
          case 7:
            clock.advance(r.int(45_000));
            return 'time passes';
          case 8:
          case 9: {
            try {
              instances.push((await store.createInstance(rent(m, r.pick(accounts), r.pick([0, 1, 1, 2, 4])))).id);
            } catch {
              // no such free GPUs or vCPUs: the full computation's answer stays what it was, too
            }
            return 'rent';
          }
          default: {
            const id = instances[r.int(instances.length)];
            if (id === undefined) return 'nothing to stop';
            const inst = await store.getInstance(id);
            if (inst === undefined || inst.status === 'destroyed') return 'gone';
            const target = r.pick(['stopped', 'deleted', 'running'] as const);
            try {
              await store.writeIntent(id, inst.generation, {
                target,
                pendingOp: null,
                acquireGpus: target === 'running' && inst.target !== 'running',
                now: clock.now(),
              });
            } catch {
              return 'start refused'; // its GPUs are rented by another instance now
            }
            if (target !== 'running') await observe(id, target === 'deleted' ? 'destroyed' : 'stopped');
            return `instance to ${target}`;
          }
        }
      };
      let searches = 0;
      let answered = 0;
      const happened = new Map<string, number>();
      for (let step = 0; step < STEPS; step++) {
        const what = await change();
        happened.set(what, (happened.get(what) ?? 0) + 1);
        for (let k = 0; k < 6; k++) {
          const q = randomSearch(r);
          const caller = r.pick(accounts);
          const want = await scanOffers({ store, clock }, caller, q);
          const got = await index.search(q, caller);
          assert.deepEqual(got, want, `step ${step} (${what}), seed ${SEED}: ${JSON.stringify(q)}`);
          searches++;
          if (want.length > 0) answered++;
        }
      }
      index.close();
      // The run covered what it claims: searches that found offers, rentals, stops and destroys.
      assert.ok(answered > searches / 4, `only ${answered} of ${searches} searches found offers`);
      for (const what of ['rent', 'instance to stopped', 'instance to deleted', 'time passes', 'maintenance'])
        assert.ok((happened.get(what) ?? 0) > 0, `no '${what}' in ${JSON.stringify([...happened])}`);
      if (process.env.GANTRY_TEST_LOG !== undefined) console.log({ searches, answered, happened: [...happened] });
    });
  });
}
