import assert from 'node:assert/strict';
import { mkdir, readdir, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startTestGantry, type TestGantry } from '../helpers/gantry.js';
import { ONE_STORE } from '../helpers/stores.js';

/**
 * A code upload is written to `blobs/tmp/<random>.part` and renamed to its key once whole. A control plane
 * killed mid-upload (kill -9, OOM, power) left the temp file, up to codeUploadMaxBytes (512 MiB) each, for good:
 * housekeeping removes those not written to for an hour, and keeps one an upload is still writing.
 */
for (const store of ONE_STORE) {
  describe(`code uploads a crash cut short (${store.name})`, { skip: store.skip }, () => {
    let g: TestGantry;
    before(async () => {
      g = await startTestGantry(store);
    });
    after(() => g.dispose());

    it('are removed from the blob store by housekeeping; one still being written is kept', async () => {
      const tmp = join(g.dataDir, 'blobs', 'tmp');
      await mkdir(tmp, { recursive: true });
      await writeFile(join(tmp, 'cut.part'), Buffer.alloc(1024));
      const twoHoursAgo = new Date(Date.now() - 2 * 3_600_000);
      await utimes(join(tmp, 'cut.part'), twoHoursAgo, twoHoursAgo);
      await writeFile(join(tmp, 'live.part'), Buffer.alloc(1024));
      await g.control.housekeeping.runOnce();
      assert.deepEqual(await readdir(tmp), ['live.part']);
    });
  });
}
