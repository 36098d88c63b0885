import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { snapshotOwnerOf, snapshotRef } from '../../src/control/volumes/snapshot.js';

/** The names snapshots get (src/control/volumes/snapshot.ts): a shared engine's are always the account's own. */
describe('snapshot names', () => {
  const req = (repo: string | null, registry: string | null = null) => ({ repo, registry, pause: false });
  const docker = { accountId: 7, shared: true };
  const processRt = { accountId: 7, shared: false };

  it("puts a docker snapshot in its account's namespace, default and --repo alike, keeping a registry other than Docker Hub's", () => {
    assert.equal(snapshotRef(req(null), 5, docker), 'gantry-snapshot/a7/instance-5');
    assert.equal(snapshotRef(req('me/app:v1'), 5, docker), 'gantry-snapshot/a7/me/app:v1');
    assert.equal(snapshotRef(req('me/app:v1', 'docker.io'), 5, docker), 'gantry-snapshot/a7/me/app:v1');
    assert.equal(snapshotRef(req('me/app:v1', 'ghcr.io'), 5, docker), 'gantry-snapshot/a7/ghcr.io/me/app:v1');
    assert.equal(snapshotRef(req('gantry-snapshot/a7/me/app'), 5, docker), 'gantry-snapshot/a7/me/app');
    assert.deepEqual(snapshotOwnerOf(snapshotRef(req(null), 5, docker)), { accountId: 7 });
  });

  it('keeps the name on the process runtime (each account has its own archives)', () => {
    assert.equal(snapshotRef(req(null), 5, processRt), 'gantry-snapshot/instance-5');
    assert.equal(snapshotRef(req('me/app:v1', 'ghcr.io'), 5, processRt), 'ghcr.io/me/app:v1');
  });

  it("refuses a --repo in Gantry's namespace other than the account's own, and names that are no image reference", () => {
    for (const rt of [docker, processRt]) {
      assert.throws(() => snapshotRef(req('gantry-snapshot/x'), 5, rt), { code: 'INVALID_ARGUMENT' });
      assert.throws(() => snapshotRef(req('gantry-snapshot/a8/x'), 5, rt), { code: 'INVALID_ARGUMENT' });
      assert.throws(() => snapshotRef(req('Not An Image'), 5, rt), { code: 'INVALID_ARGUMENT' });
    }
  });
});
