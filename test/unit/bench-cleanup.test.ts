import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { benchUidBase, callApi, startBenchGantry } from '../../bench/util.js';
import { until } from '../helpers/serverless.js';

/**
 * `npm run bench` runs its parts one after another on one machine: a part's in-process Gantry must leave no
 * workload running and no data dir behind, or the next part's Gantry (same sandbox uids, same GPUs) takes
 * those workloads for its own or is refused its uid base (a claim holds while its data dir exists). The
 * sandbox is off here, as in every test that does not need it: the default uid base is shared by them all.
 */
describe('a bench part’s in-process Gantry', () => {
  it('destroys its workloads and removes its data dir when it closes', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'gantry-bench-close-'));
    const data = join(dir, 'data');
    let g: Awaited<ReturnType<typeof startBenchGantry>> | null = null;
    try {
      g = await startBenchGantry(data, '1x RTX 4090:24GB', { processSandbox: 'off' });
      const { url, adminKey } = g;
      const api = (method: string, path: string, body?: unknown): Promise<any> => callApi(url, adminKey ?? '', method, path, body);
      const machine = (await api('GET', '/api/v0/machines/')).machines[0].id as number;
      const id = (await api('PUT', `/api/v0/asks/${machine * 1000 + 1}/`, { image: 'none', onstart: 'sleep 600', runtype: 'args' })).new_contract as number;
      await until('the instance to run', async () => (await api('GET', `/api/v0/instances/${id}/`)).instances.actual_status === 'running');
      const pgid = Number(await readFile(join(data, 'instances', String(id), 'meta', 'pgid'), 'utf8'));
      assert.ok(pgid > 1);
      process.kill(-pgid, 0); // the workload's group is there
      await g.close();
      // Gone, not just signalled: the group's leader, this process's child, is reaped by the next turns of the loop.
      const gone = (): boolean => {
        try {
          process.kill(-pgid, 0);
          return false;
        } catch (err) {
          return (err as NodeJS.ErrnoException).code === 'ESRCH';
        }
      };
      await until('its workload to be gone', async () => gone(), 5_000);
      assert.equal(existsSync(data), false);
    } finally {
      await g?.close().catch(() => undefined); // a failure before the close leaves no server or workload running
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('skips a uid base a bench that did not finish still claims (its data dir is there)', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'gantry-bench-claims-'));
    try {
      const lock = join(dir, 'lock');
      const left = join(dir, 'gantry-bench-killed', 'stop-1');
      await mkdir(lock);
      await mkdir(left, { recursive: true });
      const first = benchUidBase(lock);
      // What a killed bench leaves: the claims of its Gantrys' data dirs, which are still there.
      for (const base of [first + 1_000_000, first + 2_000_000]) {
        await writeFile(join(lock, `gantry-sandbox-uids-${base}.json`), JSON.stringify({ dataDir: left, pid: 999_999 }));
      }
      assert.equal(benchUidBase(lock), first + 3_000_000);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
