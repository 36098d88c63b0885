import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { workloadBaseEnv } from '../../src/config/load.js';
import { ProcessRuntime } from '../../src/runtime/process/process-runtime.js';

/**
 * A process snapshot is a tar written to `<name>.tar.partial`, then renamed. An agent killed meanwhile (kill -9,
 * OOM, power) never renames it, and its tar, left running, even writes the whole disk into it: the next start of
 * the host's runtime removes it, and keeps the archives taken.
 */
describe('snapshots an agent was writing when it died', () => {
  let dataDir: string;
  before(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'gantry-snapshot-cut-'));
  });
  after(() => rm(dataDir, { recursive: true, force: true }));

  it('are removed when the runtime opens; taken ones stay', async () => {
    const account = join(dataDir, 'snapshots', 'a1');
    await mkdir(account, { recursive: true });
    await writeFile(join(account, 'me%2Fapp%3Av1.tar'), 'taken');
    await writeFile(join(account, 'me%2Fapp%3Av2.tar.partial'), 'cut short');
    const rt = await ProcessRuntime.open({ root: join(dataDir, 'instances'), killWaitMs: 2000, pollMs: 25, baseEnv: workloadBaseEnv() });
    try {
      assert.deepEqual(await readdir(account), ['me%2Fapp%3Av1.tar']);
    } finally {
      await rt.close();
    }
  });
});
