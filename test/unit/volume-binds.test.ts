import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { savedBinds, saveBinds, volumeBinds } from '../../src/runtime/process/process-storage.js';

/**
 * Where the sandbox binds an instance's volumes. Never at a path on the disk: the running workload owns
 * it, and a folder on the way turned into a link would send the bind over a program the sandbox runs as
 * root. The bind goes to a mount point in the meta folder (Gantry's), and the disk holds a link to it.
 */
describe('process runtime volume binds', () => {
  it('binds each volume in the meta folder, links the mount path to it, and sessions take only such binds', async () => {
    const root = await mkdtemp(join(tmpdir(), 'gantry-binds-'));
    try {
      const [disk, meta] = [join(root, 'instances', '7', 'disk'), join(root, 'instances', '7', 'meta')];
      await Promise.all([mkdir(disk, { recursive: true }), mkdir(meta, { recursive: true })]);
      const spec = { volumes: [{ volumeId: 3, mountPath: '/workspace/x/bin' }] } as unknown as Parameters<typeof volumeBinds>[1];
      const { binds, links } = await volumeBinds(join(root, 'instances'), spec, { disk, meta }, { sandboxed: true, ids: null });
      assert.equal(binds.length, 1);
      assert.ok(binds[0]!.target.startsWith(meta + '/'), `bound in the meta folder, not on the disk: ${binds[0]!.target}`);
      assert.deepEqual(links, [{ path: join('x', 'bin'), target: binds[0]!.target }]);
      // What sessions read back: the binds of the last start, and nothing aimed elsewhere, whatever the file says.
      await saveBinds(meta, binds);
      assert.deepEqual(await savedBinds(join(root, 'instances'), meta), binds);
      await writeFile(join(meta, 'binds.json'), JSON.stringify([...binds, { source: binds[0]!.source, target: join(disk, 'x', 'bin') }]));
      assert.deepEqual(await savedBinds(join(root, 'instances'), meta), binds, 'a bind onto the disk is not taken');
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });
});
