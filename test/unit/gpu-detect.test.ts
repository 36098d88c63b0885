import assert from 'node:assert/strict';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { detectGpus, gpuUtilReader } from '../../src/agent/gpu-detect.js';
import type { GpuInventory } from '../../src/domain/machine/gpus.js';

/** `p` settled within `ms` ('settled'), or 'pending'. */
const settles = (p: Promise<unknown>, ms: number): Promise<'settled' | 'pending'> =>
  Promise.race([
    p.then(
      () => 'settled' as const,
      () => 'settled' as const,
    ),
    new Promise<'pending'>((r) => setTimeout(() => r('pending'), ms).unref()),
  ]);

/**
 * An nvidia-smi that does not answer (stuck in the driver, deaf to a TERM): the host's start waited on it for
 * good, saying nothing, and a heartbeat's read of it never ended. It is killed past gpuReadTimeoutMs, and the
 * start goes on without GPUs, saying why.
 */
describe('an nvidia-smi that does not answer', () => {
  let dir: string;
  const path = process.env.PATH;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'gantry-smi-'));
    // Ignores TERM, as the sleep it becomes does (an ignored signal stays ignored across exec).
    await writeFile(join(dir, 'nvidia-smi'), "#!/bin/sh\ntrap '' TERM\nexec sleep 60\n");
    await chmod(join(dir, 'nvidia-smi'), 0o755);
  });
  after(async () => {
    process.env.PATH = path;
    await rm(dir, { recursive: true, force: true });
  });

  it('at start: the host joins without GPUs after the bound, and says why', async () => {
    process.env.PATH = `${dir}:/usr/bin:/bin`;
    const said: string[] = [];
    const found = detectGpus(null, 300, (m) => said.push(m));
    assert.equal(await settles(found, 10_000), 'settled');
    assert.equal(await found, null);
    assert.deepEqual(said, ['nvidia-smi failed (no answer within 300 ms): this host joins without GPUs']);
  });

  it("a heartbeat's read ends once its nvidia-smi is killed", async () => {
    process.env.PATH = `${dir}:/usr/bin:/bin`;
    const read = gpuUtilReader({ declared: false } as unknown as GpuInventory, 300)();
    assert.equal(await settles(read, 10_000), 'settled');
  });

  it('no nvidia-smi at all: a host without GPUs, nothing said', async () => {
    process.env.PATH = '/nonexistent';
    const said: string[] = [];
    assert.equal(await detectGpus(null, 300, (m) => said.push(m)), null);
    assert.deepEqual(said, []);
  });

  /** A stand-in nvidia-smi running `script` (sh), first on the PATH. */
  async function smiDoing(script: string): Promise<void> {
    await writeFile(join(dir, 'nvidia-smi'), `#!/bin/sh\n${script}\n`);
    process.env.PATH = `${dir}:/usr/bin:/bin`;
  }

  it("a driver's failure: its own words are told", async () => {
    await smiDoing('echo "NVIDIA-SMI has failed because it couldn\'t communicate with the NVIDIA driver." >&2; exit 9');
    const said: string[] = [];
    assert.equal(await detectGpus(null, 5_000, (m) => said.push(m)), null);
    assert.deepEqual(said, ["nvidia-smi failed (NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver.): this host joins without GPUs"]);
  });

  it('an older driver, slow to answer: its two queries one after the other may take up to twice the bound', async () => {
    // Refuses compute_cap, then answers the query without it; each call takes 0.7 of the bound.
    await smiDoing(
      [
        'sleep 2.1',
        'case "$1" in',
        '  *compute_cap*) echo "Field compute_cap is not a valid field to query." >&2; exit 2 ;;',
        '  --query-gpu=*) echo "NVIDIA A100-SXM4-40GB, 40960, 470.57.02" ;;',
        '  *) echo "| NVIDIA-SMI 470.57.02    Driver Version: 470.57.02    CUDA Version: 11.4 |" ;;',
        'esac',
      ].join('\n'),
    );
    const found = await detectGpus(null, 3_000);
    assert.deepEqual([found?.name, found?.count, found?.cudaVersion, found?.computeCap], ['A100-SXM4-40GB', 1, 11.4, null]);
  });
});
