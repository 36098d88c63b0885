import assert from 'node:assert/strict';
import { mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startTestGantry, type TestGantry } from '../helpers/gantry.js';
import { ManualClock } from '../helpers/manual-clock.js';
import { hookStoreOnce } from '../helpers/store-hook.js';
import { TEST_STORES } from '../helpers/stores.js';

/**
 * `clone volume` (POST /api/v0/volumes/copy/) and a control plane lost during the copy: the new volume is marked
 * as a clone until its host confirms the copy. One that never confirms (the row written as a clone whose copy
 * never answers, as a `kill -9` during the copy leaves it) is shown as not ready, refused for linking and
 * cloning, and removed by housekeeping past its bound, with its data.
 */
for (const ts of TEST_STORES) {
  describe(`volume clones a crash left unconfirmed (${ts.name})`, { skip: ts.skip }, () => {
    const clock = new ManualClock();
    let g: TestGantry;
    let machineId: number;
    let offerId: number;
    let sourceId: number;
    const volumeDir = (id: number): string => join(g.dataDir, 'volumes', String(id));
    const listed = async (): Promise<Record<string, any>[]> => (await g.api('GET', '/api/v0/volumes/')).body.volumes as Record<string, any>[];
    const freeGb = async (): Promise<number> =>
      ((await g.api('POST', '/api/v0/volumes/search/', {})).body.offers as { id: number; disk_space: number }[]).find((o) => o.id === offerId)
        ?.disk_space as number;

    before(async () => {
      // Housekeeping runs where the test says (runOnce), not on its own timer as well.
      g = await startTestGantry(ts, { clock, settings: { sweepIntervalMs: 3_600_000 } });
      machineId = (await g.api('GET', '/api/v0/machines/')).body.machines[0].id as number;
      const offers = await g.api('POST', '/api/v0/volumes/', { machine: machineId, size: 40 });
      assert.equal(offers.status, 200, offers.text);
      offerId = offers.body.volume_offers[0].id as number;
      const src = await g.api('PUT', '/api/v0/volumes/', { id: offerId, size: 2, name: 'src' });
      assert.equal(src.status, 200, src.text);
      sourceId = src.body.volume_id as number;
      await mkdir(volumeDir(sourceId), { recursive: true });
      await writeFile(join(volumeDir(sourceId), 'note.txt'), 'whole\n');
    });
    after(async () => {
      await g.dispose();
    });

    it('a clone the host confirmed is an ordinary volume: available, linkable, cloned again', async () => {
      // The embedded host connects just after the start.
      let r = await g.api('POST', '/api/v0/volumes/copy/', { src_id: sourceId, dst_id: offerId });
      for (let i = 0; i < 400 && r.status === 503; i++) {
        await new Promise((res) => setTimeout(res, 50));
        r = await g.api('POST', '/api/v0/volumes/copy/', { src_id: sourceId, dst_id: offerId });
      }
      assert.equal(r.status, 200, r.text);
      const copyId = r.body.volume_id as number;
      assert.equal(await readFile(join(volumeDir(copyId), 'note.txt'), 'utf8'), 'whole\n');
      assert.equal((await listed()).find((v) => v.id === copyId)?.status, 'available');
      assert.equal((await g.store.getVolume(copyId))?.cloningUntil, null);
      const link = await g.api('PUT', `/api/v0/asks/${machineId * 1000 + 1}/`, {
        image: 'x',
        onstart: 'sleep 600',
        volume_info: { volume_id: copyId, create_new: false, mount_path: '/workspace/data' },
      });
      assert.equal(link.status, 200, link.text);
      assert.equal((await g.api('DELETE', `/api/v0/instances/${link.body.new_contract as number}/`)).status, 200);
      const again = await g.api('POST', '/api/v0/volumes/copy/', { src_id: copyId, dst_id: offerId });
      assert.equal(again.status, 200, again.text);
      assert.equal((await g.api('DELETE', `/api/v0/volumes/?id=${again.body.volume_id as number}`)).status, 200);
    });

    /** A clone request whose host answered, held before its confirmation is written; `release` lets it go on. */
    async function heldClone(): Promise<{ id: number; answer: Promise<{ status: number; body: any }>; release: () => void; restore: () => void }> {
      let release!: () => void;
      const released = new Promise<void>((res) => (release = res));
      let reached!: () => void;
      const atConfirm = new Promise<void>((res) => (reached = res));
      const restore = hookStoreOnce(g, g.store, 'confirmVolumeClone', async () => {
        reached();
        await released;
      });
      const answer = g.api('POST', '/api/v0/volumes/copy/', { src_id: sourceId, dst_id: offerId });
      await atConfirm;
      const id = Math.max(...(await listed()).map((v) => v.id as number));
      return { id, answer, release, restore };
    }

    it("a clone under way is shown creating and refused for linking, with the copy's bound; once confirmed it is available", async () => {
      const held = await heldClone();
      try {
        const row = (await listed()).find((v) => v.id === held.id);
        assert.deepEqual([row?.label, row?.status], ['src', 'creating']);
        const s = g.control.ctx.settings;
        assert.equal((await g.store.getVolume(held.id))?.cloningUntil, clock.now() + s.stepTimeoutMs + s.agentCallTimeoutMs + 60_000);
        const link = await g.api('PUT', `/api/v0/asks/${machineId * 1000 + 1}/`, {
          image: 'x',
          volume_info: { volume_id: held.id, create_new: false, mount_path: '/workspace/data' },
        });
        assert.equal(link.status, 409, link.text);
        assert.equal(link.body.code, 'VOLUME_CLONING');
      } finally {
        held.release();
        held.restore();
      }
      assert.equal((await held.answer).status, 200);
      assert.equal((await listed()).find((v) => v.id === held.id)?.status, 'available');
      assert.equal((await g.api('DELETE', `/api/v0/volumes/?id=${held.id}`)).status, 200);
    });

    it('a copy that confirms after its clone was given up answers 404, and its data is removed', async () => {
      const held = await heldClone();
      try {
        // Another replica's housekeeping, past the bound: the row goes while the copy's answer is on its way.
        const until = (await g.store.getVolume(held.id))?.cloningUntil as number;
        assert.equal(await g.store.giveUpVolumeClone(held.id, until), true);
      } finally {
        held.release();
        held.restore();
      }
      const r = await held.answer;
      assert.equal(r.status, 404, JSON.stringify(r.body));
      assert.equal(r.body.code, 'VOLUME_NOT_FOUND');
      assert.ok(!(await listed()).some((v) => v.id === held.id));
      await stat(volumeDir(held.id)).then(
        () => assert.fail('the data of the clone given up is still there'),
        () => undefined,
      );
    });

    it('a clone whose copy never confirmed: shown creating, refused for linking and cloning, removed past its bound with its data', async () => {
      const src = await g.store.getVolume(sourceId);
      assert.ok(src !== undefined);
      const freeBefore = await freeGb();
      const half = await g.store.createVolume({
        accountId: src.accountId,
        offerId,
        sizeGb: 2,
        name: 'half',
        now: clock.now(),
        cloningUntil: clock.now() + 1_000,
      });
      await mkdir(volumeDir(half.id), { recursive: true });
      await writeFile(join(volumeDir(half.id), 'part.bin'), Buffer.alloc(1000));
      assert.equal(await freeGb(), freeBefore - 2);

      const row = (await listed()).find((v) => v.id === half.id);
      assert.deepEqual([row?.status, row?.storage_total_cost], ['creating', 0]);
      const link = await g.api('PUT', `/api/v0/asks/${machineId * 1000 + 1}/`, {
        image: 'x',
        volume_info: { volume_id: half.id, create_new: false, mount_path: '/workspace/data' },
      });
      assert.equal(link.status, 409, link.text);
      assert.equal(link.body.code, 'VOLUME_CLONING');
      assert.match(link.body.msg as string, new RegExp(`Volume ${half.id} is a clone whose copy is not complete`));
      const copy = await g.api('POST', '/api/v0/volumes/copy/', { src_id: half.id, dst_id: offerId });
      assert.equal(copy.status, 409, copy.text);
      assert.equal(copy.body.code, 'VOLUME_CLONING');

      // Within its bound the copy may still be under way: kept.
      await g.control.housekeeping.runOnce();
      assert.ok((await listed()).some((v) => v.id === half.id));
      clock.advance(1_000);
      await g.control.housekeeping.runOnce();
      assert.ok(!(await listed()).some((v) => v.id === half.id), 'given up past its bound');
      assert.equal(await freeGb(), freeBefore, "the offer's space is back");
      await stat(volumeDir(half.id)).then(
        () => assert.fail('the partial data of the clone given up is still there'),
        () => undefined,
      );
      assert.equal((await g.api('DELETE', `/api/v0/volumes/?id=${half.id}`)).status, 404);
    });
  });
}
