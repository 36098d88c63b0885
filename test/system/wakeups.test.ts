import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startTestGantry, type TestGantry } from '../helpers/gantry.js';
import { createDeployment, until, workersOf } from '../helpers/serverless.js';
import { TEST_STORES } from '../helpers/stores.js';

/**
 * Nothing on the path of a stop waits for a timer: with every polling interval of the control plane
 * set to an hour, an instance stop and a deployment stop are still recorded, because the intent wakes
 * the reconciler and the serverless loop, and the reconciler's record of each stopped worker wakes
 * the serverless loop again. (How fast is the benchmark's business: `npm run bench -- serverless`.)
 */
const HOUR = 3_600_000;
const NO_POLLING = {
  observeIntervalMs: HOUR,
  reconcileIdleMs: HOUR,
  autoscaleIntervalMs: HOUR,
  sweepIntervalMs: HOUR,
  endpointWaitPollMs: HOUR,
  billingIntervalMs: HOUR,
  leaseMs: 2 * HOUR,
  workerReportStaleMs: 2 * HOUR,
};

for (const ts of TEST_STORES) {
  describe(`wake-ups instead of polling (${ts.name})`, { skip: ts.skip }, () => {
    let g: TestGantry;
    const instance = async (id: number): Promise<Record<string, unknown>> => (await g.api('GET', `/api/v0/instances/${id}/`)).body.instances;
    const status = (id: number, want: string) => until(`instance ${id} ${want}`, async () => (await instance(id)).actual_status === want, 20_000);

    before(async () => {
      g = await startTestGantry(ts, { gpus: '2x RTX 4090:24GB', settings: NO_POLLING });
    });
    after(async () => {
      await g?.dispose();
    });

    it('an instance starts and stops, and its GPU is offered again', async () => {
      const r = await g.api('PUT', `/api/v0/asks/${(await g.api('GET', '/api/v0/machines/')).body.machines[0].id * 1000 + 1}/`, {
        image: 'local/sleep',
        onstart: 'exec sleep 600',
        runtype: 'args',
      });
      assert.equal(r.status, 200, r.text);
      const id = r.body.new_contract as number;
      await status(id, 'running');
      assert.equal((await g.api('PUT', `/api/v0/instances/${id}/`, { state: 'stopped' })).status, 200);
      await status(id, 'stopped');
      const offers = await g.api('POST', '/api/v0/bundles/', { num_gpus: { eq: 2 } });
      assert.equal(offers.body.offers.length, 1, 'both GPUs free again');
      await g.api('DELETE', `/api/v0/instances/${id}/`);
    });

    it('a deployment recruits its worker, then stops with it', async () => {
      const d = await createDeployment(g, 'wake', { min_load: 1, max_workers: 1 });
      const [w] = await until('a running worker', async () => {
        const ws = await workersOf(g, d.endpointId);
        return ws.length === 1 && (await instance(ws[0]?.id ?? 0)).actual_status === 'running' ? ws : null;
      });
      assert.equal((await g.api('POST', `/api/v0/deployment/${d.id}/stop/`)).status, 200);
      await until('deployment stopped', async () => (await g.api('GET', `/api/v0/deployment/${d.id}/`)).body.deployment.gantry_status === 'stopped', 20_000);
      assert.equal((await instance(w?.id ?? 0)).actual_status, 'stopped');
    });
  });
}
