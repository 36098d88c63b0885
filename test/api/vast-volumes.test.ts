import assert from 'node:assert/strict';
import { mkdir, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startTestGantry, type TestGantry } from '../helpers/gantry.js';
import { ONE_STORE } from '../helpers/stores.js';
import { startVastClients, vastClientsMissing, type VastClients } from '../helpers/vast-clients.js';

/**
 * Volumes through the official Vast clients, unchanged: a host lists volume space, a user rents a volume,
 * a real process workload writes into it, the instance goes, a second instance on the same machine reads
 * the file; snapshots, clones, cleanup, and the refusal of network volumes.
 */
const missing = vastClientsMissing();

/** Wait for a file a workload writes; its text. */
async function fileText(path: string, timeoutMs = 30_000): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const text = await readFile(path, 'utf8').catch(() => null);
    if (text !== null && text.length > 0) return text;
    if (Date.now() > deadline) throw new Error(`${path} was not written within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const json = <T>(out: string): T => JSON.parse(out) as T;

for (const ts of ONE_STORE) {
  describe(`volumes through the official Vast clients (${ts.name})`, { skip: ts.skip || missing }, () => {
    let g: TestGantry;
    let vast: VastClients;
    let machineId: number;
    let volumeOffer: number;
    let volumeId: number;
    let gpuOffer: number;
    const disk = (id: number, file: string): string => join(g.dataDir, 'instances', String(id), 'disk', file);
    const volumeDir = (id: number): string => join(g.dataDir, 'volumes', String(id));

    before(async () => {
      g = await startTestGantry(ts);
      vast = startVastClients(g.url, g.adminKey as string);
      machineId = (await g.api('GET', '/api/v0/machines/')).body.machines[0].id as number;
      gpuOffer = machineId * 1000 + 1;
    });
    after(async () => {
      vast.close();
      await g.dispose();
    });

    async function destroy(id: number): Promise<void> {
      assert.match((await vast.legacy(['destroy', 'instance', String(id)])).out, /destroy/i);
      for (let i = 0; i < 600 && (await g.api('GET', `/api/v0/instances/${id}/`)).status !== 404; i++) await new Promise((r) => setTimeout(r, 50));
    }

    it('a host lists volume space; search volumes shows it in both clients; a user creates and shows a volume', async () => {
      const listed = await vast.legacy(['list', 'volume', String(machineId), '-s', '40', '-p', '0.2']);
      assert.match(listed.out, /Created\..*success.*True/, listed.out);
      const offers = json<{ id: number; machine_id: number; disk_space: number; storage_cost: number }[]>(
        (await vast.vastai(['search', 'volumes', '--raw'])).out,
      );
      const offer = offers.find((o) => o.machine_id === machineId);
      assert.ok(offer !== undefined, JSON.stringify(offers));
      assert.equal(offer.disk_space, 40);
      assert.equal(offer.storage_cost, 0.2);
      volumeOffer = offer.id;
      // The legacy table, and a query the clients build ("disk_space>50" leaves nothing).
      assert.match((await vast.legacy(['search', 'volumes'])).out, new RegExp(`\\b${volumeOffer}\\b.*\\b${machineId}\\b`));
      assert.deepEqual(json<unknown[]>((await vast.vastai(['search', 'volumes', 'disk_space>50', '--raw'])).out), []);

      const created = await vast.vastai(['create', 'volume', String(volumeOffer), '-s', '5', '-n', 'scratch']);
      assert.match(created.out, /Created\..*V\.\d+/, created.out);
      const shown = json<{ id: number; label: string; disk_space: number; machine_id: number; storage_cost: number }[]>(
        (await vast.legacy(['show', 'volumes', '--raw'])).out,
      );
      const scratch = shown.find((v) => v.label === 'scratch');
      assert.ok(scratch !== undefined, JSON.stringify(shown));
      assert.equal(scratch.disk_space, 5);
      assert.equal(scratch.machine_id, machineId);
      assert.match((await vast.vastai(['show', 'volumes'])).out, /scratch/);
      // The offer's free space shrank by what was rented.
      const after = json<{ id: number; disk_space: number }[]>((await vast.legacy(['search', 'volumes', '--raw'])).out).find((o) => o.id === volumeOffer);
      assert.equal(after?.disk_space, 35);
      assert.match((await vast.legacy(['delete', 'volume', String(scratch.id)])).out, /Deleted/);
    });

    it('create instance --create-volume: a workload writes into it; after a destroy, --link-volume shows the file to the next instance', async () => {
      const first = await vast.vastai([
        'create',
        'instance',
        String(gpuOffer),
        '--image',
        'x',
        '--disk',
        '1',
        '--onstart-cmd',
        'echo hello-volume > /dev/null; echo hello-volume > data/note.txt',
        '--create-volume',
        String(volumeOffer),
        '--volume-size',
        '3',
        '--volume-label',
        'kept',
        '--mount-path',
        '/workspace/data',
        '--raw',
      ]);
      const id1 = json<{ new_contract: number }>(first.out).new_contract;
      assert.ok(id1 > 0, first.out);
      const vol = json<{ id: number; label: string; instances: number[] }[]>((await vast.vastai(['show', 'volumes', '--raw'])).out).find(
        (v) => v.label === 'kept',
      );
      assert.ok(vol !== undefined);
      assert.deepEqual(vol.instances, [id1]);
      volumeId = vol.id;
      // The instance row shows the linked volume in volume_info (its fill level is not measured: avail_space null).
      const row = json<Record<string, unknown>>((await vast.legacy(['show', 'instance', String(id1), '--raw'])).out);
      assert.deepEqual(row.volume_info, [
        { id: volumeId, volume_name: `V.${volumeId}`, name: 'kept', mount_path: '/workspace/data', total_space: 3, avail_space: null, type: 'local_volume' },
      ]);
      assert.equal(await fileText(join(volumeDir(volumeId), 'note.txt')), 'hello-volume\n');
      // While an instance links it, the volume stays.
      assert.match((await vast.vastai(['delete', 'volume', String(volumeId)])).out, /destroy|in use|409/i);
      await destroy(id1);

      const second = await vast.legacy([
        'create',
        'instance',
        String(gpuOffer),
        '--image',
        'x',
        '--disk',
        '1',
        '--onstart-cmd',
        'cat data/note.txt > seen.txt; echo mine > mine.txt',
        '--link-volume',
        String(volumeId),
        '--mount-path',
        '/workspace/data',
        '--raw',
      ]);
      const id2 = json<{ new_contract: number }>(second.out).new_contract;
      assert.equal(await fileText(disk(id2, 'seen.txt')), 'hello-volume\n', 'the second instance reads what the first wrote');

      // A volume on another machine's offer cannot link (there is one machine: ask for a volume that is not there).
      const wrong = await vast.legacy(['create', 'instance', String(gpuOffer), '--image', 'x', '--link-volume', '999999', '--mount-path', '/data']);
      assert.match(wrong.out, /No volume with id 999999/);

      // take snapshot on the process runtime: an archive of the disk; a new instance with that image starts from it.
      const snap = await vast.vastai(['take', 'snapshot', String(id2), '--repo', 'me/snap:v1']);
      assert.match(snap.out, /Snapshot request sent successfully/, snap.out);
      const third = await vast.legacy([
        'create',
        'instance',
        String(gpuOffer),
        '--image',
        'me/snap:v1',
        '--disk',
        '1',
        '--onstart-cmd',
        'cat mine.txt seen.txt > again.txt',
        '--raw',
      ]);
      const id3 = json<{ new_contract: number }>(third.out).new_contract;
      assert.equal(await fileText(disk(id3, 'again.txt')), 'mine\nhello-volume\n', 'the disk started as a copy of the snapshot');
      await stat(disk(id3, 'data')).then(
        () => assert.fail('the volume mount point is not part of the snapshot'),
        () => undefined,
      );
      await destroy(id2);
      await destroy(id3);
    });

    it('clone volume copies the data on the machine; unlist volume; delete volume removes the data; cleanup machine frees orphans', async () => {
      const cloned = await vast.legacy(['clone', 'volume', String(volumeId), String(volumeOffer)]);
      assert.match(cloned.out, /Created\..*V\.(\d+)/, cloned.out);
      const copyId = Number(/V\.(\d+)/.exec(cloned.out)?.[1]);
      assert.equal(await readFile(join(volumeDir(copyId), 'note.txt'), 'utf8'), 'hello-volume\n');
      // A volume no instance has used yet has no folder: its clone is an empty volume, not an error.
      const unused = Number(/V\.(\d+)/.exec((await vast.vastai(['create', 'volume', String(volumeOffer), '-s', '1'])).out)?.[1]);
      const emptyClone = await vast.vastai(['clone', 'volume', String(unused), String(volumeOffer)]);
      assert.match(emptyClone.out, /Created\..*V\.(\d+)/, emptyClone.out);
      const emptyId = Number(/V\.(\d+)/.exec(emptyClone.out)?.[1]);
      assert.deepEqual(await readdir(volumeDir(emptyId)), []);
      for (const id of [unused, emptyId]) assert.match((await vast.vastai(['delete', 'volume', String(id)])).out, /Deleted/);

      assert.match((await vast.vastai(['unlist', 'volume', String(volumeOffer)])).out, /Unlisted Volume/);
      assert.ok(!json<{ id: number }[]>((await vast.vastai(['search', 'volumes', '--raw'])).out).some((o) => o.id === volumeOffer));
      assert.match((await vast.vastai(['create', 'volume', String(volumeOffer)])).out, /No listed volume offer/);

      for (const id of [volumeId, copyId]) assert.match((await vast.vastai(['delete', 'volume', String(id)])).out, /Deleted/);
      await stat(volumeDir(volumeId)).then(
        () => assert.fail('the deleted volume still has data'),
        () => undefined,
      );
      assert.deepEqual(json<unknown[]>((await vast.legacy(['show', 'volumes', '--raw'])).out), []);

      // Data of a volume deleted while its host was away: cleanup machine removes it and says what was freed.
      await mkdir(volumeDir(4242), { recursive: true });
      await writeFile(join(volumeDir(4242), 'left.bin'), Buffer.alloc(100_000));
      const cleaned = await vast.legacy(['cleanup', 'machine', String(machineId)]);
      assert.match(cleaned.out, /"num_deleted": 1/, cleaned.out);
      assert.match(cleaned.out, /orphan volume/);
      await stat(volumeDir(4242)).then(
        () => assert.fail('the orphan volume folder is still there'),
        () => undefined,
      );
      assert.match((await vast.vastai(['cleanup', 'machine', String(machineId)])).out, /"num_deleted": 0/);
    });

    it('network volumes and network disks: each verb answers why Gantry does not offer them', async () => {
      const verbs: [string, string[]][] = [
        ['legacy', ['search', 'network-volumes']],
        ['vastai', ['search', 'network-volumes']],
        ['legacy', ['create', 'network-volume', '1']],
        ['vastai', ['list', 'network-volume', '1']],
        ['legacy', ['unlist', 'network-volume', '1']],
        ['vastai', ['add', 'network-disk', String(machineId), '/mnt/shared']],
        ['legacy', ['show', 'network-disks']],
      ];
      for (const [client, args] of verbs) {
        const r = await (client === 'legacy' ? vast.legacy(args) : vast.vastai(args));
        assert.match(r.out, /no network volumes or network disks/, `${client} ${args.join(' ')}: ${r.out}`);
      }
      assert.deepEqual(json<unknown[]>((await vast.vastai(['show', 'volumes', '-t', 'network', '--raw'])).out), []);
    });
  });
}
