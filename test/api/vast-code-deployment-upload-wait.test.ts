import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { startTestGantry, type TestGantry } from '../helpers/gantry.js';
import { SERVERLESS_FAST, until, workersOf } from '../helpers/serverless.js';
import { ONE_STORE } from '../helpers/stores.js';

/**
 * A code deployment put but not yet uploaded recruits no worker: one would fetch download_url, get
 * CODE_NOT_UPLOADED and fail, and after workerFailuresBeforeDead such failures a new deployment
 * whose upload took longer than a few seconds was `failed` (stopped) before its code arrived, the
 * upload not reviving it. Once the upload is stored, workers are recruited.
 */
for (const ts of ONE_STORE) {
  describe(`a code deployment waits for its upload (${ts.name})`, { skip: ts.skip }, () => {
    let g: TestGantry;
    before(async () => {
      g = await startTestGantry(ts, { gpus: '2x RTX 4090:24GB', settings: { ...SERVERLESS_FAST, workerFailuresBeforeDead: 2 } });
    });
    after(() => g.dispose());

    it('recruits no worker before the code is stored, and recruits once it is', async () => {
      const bytes = randomBytes(100);
      const r = await g.api('PUT', '/api/v0/deployments/', {
        name: 'slow-upload',
        image: 'python:3.12-slim',
        file_hash: randomBytes(32).toString('hex'),
        file_size: bytes.length,
        env: '-p 3000:3000/tcp',
        storage: 16,
        max_workers: 1,
        cold_workers: 1,
      });
      assert.equal(r.status, 200, r.text);
      const id = r.body.deployment_id as number;
      const endpointId = r.body.endpoint_id as number;
      const shown = async (): Promise<Record<string, any>> => (await g.api('GET', `/api/v0/deployment/${id}/`)).body.deployment as Record<string, any>;
      await until('a pass to say it waits for the upload', async () => /waiting for the code upload/.test(String((await shown()).status_msg)));
      // Several passes later (150 ms apart): still no worker, and not failed.
      await new Promise((res) => setTimeout(res, 1500));
      assert.equal((await workersOf(g, endpointId)).length, 0);
      const waiting = await shown();
      assert.equal(waiting.endpoint_state, 'active');
      assert.notEqual(waiting.gantry_status, 'failed');

      const form = new FormData();
      for (const [k, v] of Object.entries(r.body.upload_fields as Record<string, string>)) form.append(k, v);
      form.append('file', new Blob([bytes], { type: 'application/gzip' }), 'deployment.tar.gz');
      const up = await fetch(r.body.upload_url as string, { method: 'POST', body: form });
      assert.equal(up.status, 201, await up.text());
      await until('a worker to be recruited once the code is stored', async () => (await workersOf(g, endpointId)).length > 0);
    });
  });
}
