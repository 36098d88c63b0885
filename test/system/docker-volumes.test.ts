import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { engineFor } from '../../src/runtime/docker/docker-runtime.js';
import { dockerSkip, testDockerHost, testImage } from '../helpers/docker.js';
import { startTestGantry, type TestGantry } from '../helpers/gantry.js';
import { TEST_STORES } from '../helpers/stores.js';

/**
 * Volumes and snapshots on the docker runtime (a real Podman API service): a volume's folder is bound at its
 * mount path in the container, and `take snapshot` commits the container as an image a new instance runs.
 */
const ts = TEST_STORES.find((s) => s.name === 'sqlite');
const SNAP = 'gantry-test/volume-snap:v1';
/** Where the admin's (account 1) snapshot of that name lands: the account's own namespace of the host's engine. */
const SNAP_IMAGE = `gantry-snapshot/a1/${SNAP}`;

async function until<T>(f: () => Promise<T | null>, ms = 60_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await f();
    if (v !== null) return v;
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('volumes and snapshots on the docker runtime (Podman)', { skip: dockerSkip() || ts?.skip || false, timeout: 180_000 }, () => {
  let g: TestGantry;

  before(async () => {
    g = await startTestGantry(ts!, { settings: { runtime: 'docker', dockerHost: testDockerHost(), stopGraceMs: 1000 } });
  });
  after(async () => {
    await engineFor(testDockerHost())
      .getImage(SNAP_IMAGE)
      .remove({ force: true })
      .catch(() => undefined);
    await g?.dispose();
  });

  it('binds the volume at its mount path; a snapshot is an image the next instance runs', async () => {
    const machineId = (await g.api('GET', '/api/v0/machines/')).body.machines[0].id as number;
    assert.equal((await g.api('POST', '/api/v0/volumes/', { machine: machineId, size: 2 })).status, 200);
    const offer = (await g.api('POST', '/api/v0/volumes/search/', {})).body.offers[0].id as number;
    const onstart = 'echo baked > /baked.txt; echo from-container > /data/v.txt; sleep 300';
    const r = await g.api('PUT', `/api/v0/asks/${machineId * 1000 + 1}/`, {
      image: testImage(),
      onstart,
      runtype: 'ssh',
      volume_info: { create_new: true, volume_id: offer, size: 1, mount_path: '/data' },
    });
    assert.equal(r.status, 200, r.text);
    const id = r.body.new_contract as number;
    await g.waitInstance(id, (x) => x.actual_status === 'running', 60_000);
    const volumeId = (await g.api('GET', '/api/v0/volumes?owner=me')).body.volumes[0].id as number;
    const text = await until(() =>
      readFile(join(g.dataDir, 'volumes', String(volumeId), 'v.txt'), 'utf8').then(
        (t) => t || null,
        () => null,
      ),
    );
    assert.equal(text, 'from-container\n');
    const snap = await g.api('POST', `/api/v0/instances/take_snapshot/${id}/`, { personal_repo: SNAP, container_registry: 'docker.io', pause: 'true' });
    assert.equal(snap.status, 200, snap.text);
    assert.equal(snap.body.image, SNAP_IMAGE);
    assert.match(snap.body.msg as string, /Not pushed/);
    assert.ok(await engineFor(testDockerHost()).getImage(SNAP_IMAGE).inspect());

    // As on Vast: the name given to the snapshot is the image of the next instance (its account's snapshot runs).
    const next = await g.api('PUT', `/api/v0/asks/${machineId * 1000 + 1}/`, {
      image: SNAP,
      onstart: 'cat /baked.txt > /workspace/out.tmp && mv /workspace/out.tmp /workspace/out.txt; sleep 300',
      runtype: 'ssh',
    });
    assert.equal(next.status, 200, next.text);
    const id2 = next.body.new_contract as number;
    const out = await until(() => readFile(join(g.dataDir, 'instances', String(id2), 'disk', 'out.txt'), 'utf8').catch(() => null));
    assert.equal(out, 'baked\n', 'the snapshot image holds what the first container wrote');
    for (const i of [id, id2]) await g.api('DELETE', `/api/v0/instances/${i}/`);
  });
});
