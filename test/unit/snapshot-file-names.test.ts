import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { snapshotRef } from '../../src/control/volumes/snapshot.js';
import { processStorage, seedFromSnapshot } from '../../src/runtime/process/process-storage.js';
import type { WorkloadSpec } from '../../src/runtime/runtime.js';
import { snapshotDirOf, snapshotFileName, snapshotFileNameBefore } from '../../src/runtime/storage.js';

/** Process-runtime snapshots are archives named after their image reference (src/runtime/storage.ts). */
describe('process snapshot archive names', () => {
  it('gives every reference a name of its own, safe as a file name', () => {
    const refs = ['a_b:c', 'a/b:c', 'a:b_c', 'a/b_c', 'a_b_c', 'me/app:v1', 'me/app', 'x/y', 'x/2fy', 'localhost:5000/a:b', `${'a_'.repeat(120)}a:x`];
    const names = refs.map(snapshotFileName);
    assert.equal(new Set(names).size, refs.length, names.join('\n'));
    for (const n of names) {
      assert.match(n, /^[A-Za-z0-9%][A-Za-z0-9.%-]*\.tar$/, n);
      assert.ok(Buffer.byteLength(`${n}.partial`) <= 255, n);
      // No name of the older scheme: an archive taken before is never read as another reference's.
      assert.ok(n.includes('%'), n);
    }
    assert.equal(snapshotFileName('me/app'), snapshotFileName('me/app:latest'), 'no tag is latest, as an engine reads it');
    assert.equal(snapshotFileName('.x'), '%2Ex%3Alatest.tar');
    assert.notEqual(snapshotFileName(`${'a_'.repeat(120)}a:x`), snapshotFileName(`${'a_'.repeat(120)}a:y`));
  });

  it('keeps apart snapshots whose references differ only in `_`, `/` and `:`, and still reads one taken before', async () => {
    const base = await mkdtemp(join(tmpdir(), 'gantry-snap-names-'));
    const root = join(base, 'instances');
    const disk = (id: number): string => join(root, String(id), 'disk');
    const take = async (id: number, ref: string, text: string): Promise<void> => {
      await mkdir(disk(id), { recursive: true });
      await writeFile(join(disk(id), 'who.txt'), text);
      await processStorage(root, { kind: 'snapshot', instanceId: id, accountId: 1, ref, pause: false, exclude: [] }, disk);
    };
    const seeded = async (id: number, image: string): Promise<string | null> => {
      const meta = join(root, String(id), 'meta');
      await mkdir(disk(id), { recursive: true });
      await mkdir(meta, { recursive: true });
      await seedFromSnapshot(root, { instanceId: id, image, accountId: 1 } as WorkloadSpec, { disk: disk(id), meta }, null);
      return readFile(join(disk(id), 'who.txt'), 'utf8').catch(() => null);
    };
    try {
      await take(1, 'a_b:c', 'first');
      await take(2, 'a/b:c', 'second');
      await take(3, 'a:b_c', 'third');
      assert.equal(await seeded(11, 'a_b:c'), 'first');
      assert.equal(await seeded(12, 'a/b:c'), 'second');
      assert.equal(await seeded(13, 'a:b_c'), 'third');
      // An archive an older version wrote (under the name several references shared) is still found by its reference.
      await mkdir(disk(4), { recursive: true });
      await writeFile(join(disk(4), 'who.txt'), 'old');
      const old = join(snapshotDirOf(root, 1), snapshotFileNameBefore('old/app:v1'));
      assert.equal(spawnSync('tar', ['-cf', old, '-C', disk(4), '.']).status, 0);
      assert.equal(await seeded(14, 'old/app:v1'), 'old');
      assert.equal(await seeded(15, 'nothing/here:v1'), null);
    } finally {
      await rm(base, { recursive: true, force: true });
    }
  });

  it('refuses a --repo that reads as a path, on both runtimes, as an invalid argument', () => {
    const req = (repo: string) => ({ repo, registry: null, pause: false });
    for (const shared of [true, false])
      for (const repo of ['../evil', './x', '..', 'a/../../b:1', '/abs', 'a//b', '.hidden/x', '-x/y'])
        assert.throws(() => snapshotRef(req(repo), 5, { accountId: 7, shared }), { code: 'INVALID_ARGUMENT' }, `${repo} (shared: ${shared})`);
    assert.equal(snapshotRef(req('registry.example:5000/me/app:v1'), 5, { accountId: 7, shared: false }), 'registry.example:5000/me/app:v1');
  });
});
