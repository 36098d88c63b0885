import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Kysely, Migrator } from 'kysely';
import { GantryError } from '../../src/domain/errors.js';
import { KyselyStore } from '../../src/store/kysely/kysely-store.js';
import { migrations } from '../../src/store/kysely/migrations.js';
import type { NewInstance, Store } from '../../src/store/store.js';
import { machineReg } from '../helpers/machines.js';
import { TEST_STORES } from '../helpers/stores.js';

const code = (c: string) => (e: unknown) => e instanceof GantryError && e.code === c;

/** The volume part of the store port: offers, rentals against free space (from two replicas), links into instances. */
for (const ts of TEST_STORES) {
  describe(`volume store contract: ${ts.name}`, { skip: ts.skip }, () => {
    let dir: string;
    let store: Store;
    let other: Store;
    let accountId: number;
    let machineId: number;
    const newInstance = (o: Partial<NewInstance> = {}): NewInstance => ({
      accountId,
      machineId,
      numGpus: 0,
      image: 'img',
      env: {},
      requestedPorts: [],
      onstart: null,
      entrypoint: null,
      args: null,
      runtype: 'ssh',
      label: null,
      diskGb: 1,
      offerType: 'on-demand',
      bidPrice: null,
      dphBase: 0.1,
      storageCost: 0.1,
      target: 'running',
      instanceKeyHash: (id) => `hash-${id}-${Math.random()}`,
      now: 1000,
      ...o,
    });

    before(async () => {
      dir = await mkdtemp(join(tmpdir(), 'gantry-volume-store-'));
      const location = await ts.fresh(dir);
      store = new KyselyStore(ts.dialect(location));
      await store.migrate();
      other = new KyselyStore(ts.dialect(location));
      accountId = (await store.createAccount({ username: 'u', email: 'u@x', isAdmin: false, now: 1 })).id;
      machineId = (await store.registerMachine(machineReg('host-v', accountId), Date.now())).id;
    });
    after(async () => {
      await other.close();
      await store.close();
      await rm(dir, { recursive: true, force: true });
    });

    it('one offer per machine: listing again resizes it; rentals from two replicas never pass its size', async () => {
      const a = await store.upsertVolumeOffer({ machineId, ownerId: accountId, sizeGb: 5, priceDiskPerGbMonth: 0.1, endDate: null, now: 1 });
      const b = await other.upsertVolumeOffer({ machineId, ownerId: accountId, sizeGb: 10, priceDiskPerGbMonth: 0.2, endDate: 99, now: 2 });
      assert.equal(b.id, a.id);
      assert.deepEqual([b.sizeGb, b.priceDiskPerGbMonth, b.endDate, b.listed, b.usedGb], [10, 0.2, 99, true, 0]);
      // Two SQLite handles in one process would wait on each other's lock synchronously: one writes, as one machine does.
      const twoWriters = ts.name === 'postgres';
      const tries = await Promise.allSettled(
        Array.from({ length: 6 }, (_, i) =>
          (i % 2 === 0 || !twoWriters ? store : other).createVolume({ accountId, offerId: a.id, sizeGb: 3, name: `v${i}`, now: 5 }),
        ),
      );
      assert.equal(tries.filter((t) => t.status === 'fulfilled').length, 3);
      for (const t of tries) if (t.status === 'rejected') assert.ok(code('VOLUME_SPACE_EXHAUSTED')(t.reason), String(t.reason));
      assert.equal((await other.getVolumeOffer(a.id))?.usedGb, 9);
      const mine = await store.listVolumes({ accountId });
      assert.equal(mine.length, 3);
      assert.ok(mine.every((v) => v.machineId === machineId && v.priceDiskPerGbMonth === 0.2 && v.instanceIds.length === 0));
      await store.setVolumeOfferListed(a.id, false);
      assert.deepEqual(await store.listVolumeOffers({ listedOnly: true }), []);
      await assert.rejects(store.createVolume({ accountId, offerId: a.id, sizeGb: 1, name: null, now: 6 }), code('VOLUME_OFFER_NOT_FOUND'));
      await store.setVolumeOfferListed(a.id, true);
    });

    it('links volumes in the create transaction; a linked volume is in use until its instance is destroyed', async () => {
      const [v] = await store.listVolumes({ accountId });
      assert.ok(v !== undefined);
      const inst = await store.createInstance(newInstance({ volumes: [{ volumeId: v.id, mountPath: '/workspace/data' }] }));
      assert.deepEqual(await other.instanceVolumes(inst.id), [{ volumeId: v.id, mountPath: '/workspace/data' }]);
      // What an instance view shows of them, for many instances at once (one without volumes is absent).
      const linked = await other.linkedVolumes([inst.id, 999_999]);
      assert.deepEqual([...linked.keys()], [inst.id]);
      assert.deepEqual(linked.get(inst.id), [{ volumeId: v.id, mountPath: '/workspace/data', name: v.name, sizeGb: v.sizeGb }]);
      assert.deepEqual(await other.linkedVolumes([]), new Map());
      assert.deepEqual((await other.getVolume(v.id))?.instanceIds, [inst.id]);
      await assert.rejects(other.deleteVolume(v.id, 10), code('VOLUME_IN_USE'));

      const [claimed] = await store.claimInstances({ owner: 'r', now: 2000, leaseMs: 1000, observeBefore: 2000, limit: 10, machineIds: [machineId] });
      assert.equal(claimed?.id, inst.id);
      const ok = await store.applyObservation(inst.id, claimed.leaseToken as string, {
        status: 'destroyed',
        statusMsg: null,
        exitCode: null,
        observedGeneration: claimed.generation,
        pendingOpDone: true,
        now: 2001,
      });
      assert.ok(ok);
      const used = (await store.getVolumeOffer(v.offerId))?.usedGb as number;
      await other.deleteVolume(v.id, 11);
      assert.equal(await store.getVolume(v.id), undefined);
      assert.equal((await store.getVolumeOffer(v.offerId))?.usedGb, used - v.sizeGb);
      await assert.rejects(store.deleteVolume(v.id, 12), code('VOLUME_NOT_FOUND'));
      assert.deepEqual(await store.deadVolumeIds(machineId, [v.id, 77_777]), [v.id, 77_777]);

      // A create that links a deleted volume leaves nothing behind.
      const before = (await store.listInstances({ accountId })).length;
      await assert.rejects(store.createInstance(newInstance({ volumes: [{ volumeId: v.id, mountPath: 'data' }] })), code('VOLUME_NOT_FOUND'));
      assert.equal((await store.listInstances({ accountId })).length, before);
    });

    it('bills a volume as storage, renter to host, once per stretch; the last stretch on delete', async () => {
      const host = (await store.createAccount({ username: 'h', email: 'h@x', isAdmin: false, now: 1 })).id;
      const renter = (await store.createAccount({ username: 'r', email: 'r@x', isAdmin: false, now: 1 })).id;
      const m = (await store.registerMachine(machineReg('host-bill', host), Date.now())).id;
      const offer = await store.upsertVolumeOffer({ machineId: m, ownerId: host, sizeGb: 100, priceDiskPerGbMonth: 0.72, endDate: null, now: 1 });
      const v = await store.createVolume({ accountId: renter, offerId: offer.id, sizeGb: 10, name: null, now: 0 });
      const hour = 3_600_000;
      await store.settleVolumeMeters(hour);
      await store.settleVolumeMeters(hour); // nothing new to charge
      await store.deleteVolume(v.id, 2 * hour);
      // 10 GB at $0.72/GB/month (720 hours) is $0.01 an hour.
      const charges = await store.listCharges(renter, { from: 0, to: 3 * hour, limit: 10 });
      assert.deepEqual(
        charges.map((c) => [c.kind, c.instanceId, c.start, c.end]),
        [['volume', v.id, 0, 2 * hour]],
      );
      assert.ok(Math.abs((charges[0]?.amount ?? 0) - 0.02) < 1e-9);
      assert.ok(Math.abs(((await store.getAccount(renter))?.balance ?? 0) + 0.02) < 1e-9);
      assert.ok(Math.abs(((await store.getAccount(host))?.balance ?? 0) - 0.02) < 1e-9);
    });

    it('a clone is marked until confirmed: not linkable, not billed; past its bound one replica gives it up, its space freed', async () => {
      const owner = (await store.createAccount({ username: 'c', email: 'c@x', isAdmin: false, now: 1 })).id;
      const m = (await store.registerMachine(machineReg('host-clone', owner), Date.now())).id;
      const offer = await store.upsertVolumeOffer({ machineId: m, ownerId: owner, sizeGb: 100, priceDiskPerGbMonth: 0.72, endDate: null, now: 1 });
      const hour = 3_600_000;
      const clone = (until: number) => store.createVolume({ accountId: owner, offerId: offer.id, sizeGb: 10, name: 'copy', now: 0, cloningUntil: until });
      const kept = await clone(hour);
      const lost = await clone(hour);
      assert.equal(kept.cloningUntil, hour);
      assert.equal((await other.getVolume(lost.id))?.cloningUntil, hour);
      assert.equal((await store.getVolumeOffer(offer.id))?.usedGb, 20);
      // Linking an unconfirmed clone is refused in the create transaction, leaving nothing behind.
      const before = (await store.listInstances({ accountId: owner })).length;
      await assert.rejects(
        store.createInstance(newInstance({ accountId: owner, machineId: m, volumes: [{ volumeId: lost.id, mountPath: 'data' }] })),
        code('VOLUME_CLONING'),
      );
      assert.equal((await store.listInstances({ accountId: owner })).length, before);
      // Before its bound it is not given up; the confirmed one becomes ordinary and is billed from its confirmation.
      assert.deepEqual(await store.expiredVolumeClones(hour - 1), []);
      assert.equal(await store.confirmVolumeClone(kept.id, hour / 2), true);
      assert.equal(await store.confirmVolumeClone(kept.id, hour / 2), false, 'confirmed once');
      assert.equal((await other.getVolume(kept.id))?.cloningUntil, null);
      await store.settleVolumeMeters(2 * hour);
      const charges = await store.listCharges(owner, { from: 0, to: 3 * hour, limit: 10 });
      assert.deepEqual(
        charges.map((c) => [c.instanceId, c.start, c.end]),
        [[kept.id, hour / 2, 2 * hour]],
        'the unconfirmed clone is not billed',
      );
      assert.deepEqual(
        (await other.expiredVolumeClones(hour)).map((v) => v.id),
        [lost.id],
      );
      // Two replicas give it up at once: one deletes it, the space is freed once.
      const gaveUp = await Promise.all([
        store.giveUpVolumeClone(lost.id, 2 * hour),
        ts.name === 'postgres' ? other.giveUpVolumeClone(lost.id, 2 * hour) : false,
      ]);
      assert.equal(gaveUp.filter(Boolean).length, 1);
      assert.equal(await store.giveUpVolumeClone(lost.id, 2 * hour), false);
      assert.equal(await store.giveUpVolumeClone(kept.id, 2 * hour), false, 'a confirmed clone is never given up');
      assert.equal(await store.getVolume(lost.id), undefined);
      assert.equal((await store.getVolumeOffer(offer.id))?.usedGb, 10);
      assert.deepEqual(await store.deadVolumeIds(m, [kept.id, lost.id]), [lost.id]);
      assert.equal(await store.confirmVolumeClone(lost.id, 2 * hour), false, 'a late confirmation does not bring it back');
      await store.deleteVolume(kept.id, 3 * hour);
    });

    it('upgrading (0038) keeps every volume an ordinary one', async () => {
      const updir = await mkdtemp(join(tmpdir(), 'gantry-volume-upgrade-'));
      const d = ts.dialect(await ts.fresh(updir));
      const db = new Kysely<any>({ dialect: d.createKyselyDialect() });
      const old = new KyselyStore(d);
      try {
        assert.equal((await new Migrator({ db, provider: migrations(d) }).migrateTo('0037_ml_parts_version')).error, undefined);
        const owner = (await old.createAccount({ username: 'o', email: 'o@x', isAdmin: false, now: 1 })).id;
        const m = (await old.registerMachine(machineReg('host-old', owner), Date.now())).id;
        const offer = await old.upsertVolumeOffer({ machineId: m, ownerId: owner, sizeGb: 50, priceDiskPerGbMonth: 0.1, endDate: null, now: 1 });
        const row = {
          account_id: owner,
          offer_id: offer.id,
          machine_id: m,
          name: 'old',
          size_gb: 5,
          price_disk: 0.1,
          created_at: 1,
          deleted_at: null,
          meter_since: 1,
        };
        const { id } = await db.insertInto('volumes').values(row).returning('id').executeTakeFirstOrThrow();
        await old.migrate();
        const v = await old.getVolume(id as number);
        assert.deepEqual([v?.name, v?.cloningUntil], ['old', null]);
        assert.deepEqual(await old.expiredVolumeClones(Number.MAX_SAFE_INTEGER), []);
        const inst = await old.createInstance(newInstance({ accountId: owner, machineId: m, volumes: [{ volumeId: id as number, mountPath: 'data' }] }));
        assert.deepEqual(await old.instanceVolumes(inst.id), [{ volumeId: id, mountPath: 'data' }]);
      } finally {
        await old.close();
        await db.destroy();
        await rm(updir, { recursive: true, force: true });
      }
    });
  });
}
