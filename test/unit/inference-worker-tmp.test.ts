import assert from 'node:assert/strict';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { ownTempFolder } from '../../src/config/inference-env.js';

describe('inference worker: its own temporary folder', () => {
  it('is .tmp in its working folder (the instance disk), made private, and named by TMPDIR before onnxruntime loads', async () => {
    const disk = await mkdtemp(join(tmpdir(), 'gantry-worker-tmp-'));
    const before = process.env.TMPDIR;
    try {
      const tmp = ownTempFolder(disk);
      assert.equal(tmp, join(disk, '.tmp'));
      assert.equal(process.env.TMPDIR, tmp);
      assert.equal((await stat(tmp)).mode & 0o777, 0o700);
      assert.equal(ownTempFolder(disk), tmp, 'a restart in the same disk finds it there');
    } finally {
      if (before === undefined) delete process.env.TMPDIR;
      else process.env.TMPDIR = before;
      await rm(disk, { recursive: true, force: true });
    }
  });
});
