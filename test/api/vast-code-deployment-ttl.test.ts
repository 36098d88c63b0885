import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startTestGantry, type TestGantry } from '../helpers/gantry.js';
import { ManualClock } from '../helpers/manual-clock.js';
import { SERVERLESS_FAST, until } from '../helpers/serverless.js';
import { TEST_STORES } from '../helpers/stores.js';

/**
 * A code deployment's ttl (decision 020): no client heartbeat for `ttl` seconds and the serverless
 * loop stops it — stopped, not deleted: the deployment, its code versions and its configuration stay.
 * A start, or a PUT that gives it a new ttl, counts as a heartbeat.
 * Time moves on a ManualClock; no host, so nothing but the ttl acts. On both stores: the heartbeat
 * and the ttl are columns of the code deployment's row.
 */
for (const ts of TEST_STORES) {
  describe(`code deployments' ttl (${ts.name})`, { skip: ts.skip }, () => {
    let g: TestGantry;
    const clock = new ManualClock();
    before(async () => {
      // A deployment scaled to zero rests for an hour unless something wakes it (decision 026).
      g = await startTestGantry(ts, { localHost: false, clock, settings: { ...SERVERLESS_FAST, idleEndpointRecheckMs: 3_600_000 } });
    });
    after(() => g.dispose());

    const put = (o: Record<string, unknown>) =>
      g.api('PUT', '/api/v0/deployments/', {
        name: 'ttl-app',
        image: 'python:3.12-slim',
        file_hash: 'd'.repeat(64),
        file_size: 100,
        env: '-p 3000:3000/tcp',
        storage: 16,
        max_workers: 1,
        cold_workers: 0,
        ...o,
      });
    const shown = async (id: number): Promise<Record<string, any>> => {
      const r = await g.api('GET', `/api/v0/deployment/${id}/`);
      assert.equal(r.status, 200, r.text);
      return r.body.deployment as Record<string, any>;
    };

    it('stops a deployment whose client sent no heartbeat within its ttl, and keeps it', async () => {
      const r = await put({ ttl: 30 });
      assert.equal(r.status, 200, r.text);
      const id = r.body.deployment_id as number;
      // Heartbeats keep it: past the ttl from its creation, not from its last heartbeat.
      clock.advance(20_000);
      assert.equal((await g.api('POST', `/api/v0/deployment/${id}/heartbeat/`)).status, 200);
      clock.advance(20_000);
      assert.equal((await g.api('POST', `/api/v0/deployment/${id}/heartbeat/`)).status, 200);
      assert.equal((await shown(id)).endpoint_state, 'active');

      // Then the client goes quiet past its ttl.
      clock.advance(31_000);
      const stopped = await until('the silent deployment to stop', async () => {
        const d = await shown(id);
        return d.gantry_status === 'stopped' ? d : null;
      });
      assert.equal(stopped.endpoint_state, 'stopped');
      assert.equal(stopped.file_hash, 'd'.repeat(64));
      assert.equal(stopped.ttl, 30);
      const versions = (await g.api('GET', `/api/v0/deployment/${id}/versions/`)).body.versions as unknown[];
      assert.equal(versions.length, 1);

      // A start counts as a heartbeat: it runs again for its ttl, then a silent client stops it again.
      clock.advance(120_000);
      const started = await g.api('POST', `/api/v0/deployment/${id}/start/`);
      assert.equal(started.status, 200, started.text);
      assert.equal((await shown(id)).last_client_heartbeat, clock.now() / 1000);
      clock.advance(20_000);
      // The start wrote no message; a pass writes why no worker runs (no host here): one has looked since.
      const again = await until('a pass over the started deployment', async () => {
        const d = await shown(id);
        return d.status_msg !== null ? d : null;
      });
      assert.equal(again.endpoint_state, 'active');
      assert.notEqual(again.gantry_status, 'stopped');
      clock.advance(11_000);
      await until('the started deployment to stop again', async () => ((await shown(id)).gantry_status === 'stopped' ? true : null));
    });

    it('leaves a deployment without a ttl running however long its client is quiet', async () => {
      const r = await put({ name: 'no-ttl-app', ttl: null });
      assert.equal(r.status, 200, r.text);
      const id = r.body.deployment_id as number;
      clock.advance(86_400_000);
      // A pass has looked at it since (it left `unknown`: no offer here), and it still runs.
      const d = await until('a pass over the deployment', async () => {
        const s = await shown(id);
        return s.gantry_status !== 'unknown' ? s : null;
      });
      assert.equal(d.endpoint_state, 'active');
      assert.notEqual(d.gantry_status, 'stopped');
    });

    it("counts a new ttl from the PUT that set it, not from the deployment's creation", async () => {
      // A witness with a ttl of 30 s from its creation; 20 s later a client gives the deployment of the
      // test above (a day old, no heartbeat ever) the same ttl.
      const witness = (await put({ name: 'witness-app', ttl: 30 })).body.deployment_id as number;
      clock.advance(20_000);
      const r = await put({ name: 'no-ttl-app', ttl: 30 });
      assert.equal(r.status, 200, r.text);
      const id = r.body.deployment_id as number;
      assert.equal((await shown(id)).last_client_heartbeat, clock.now() / 1000);
      // The same ttl again is no heartbeat: only the client's heartbeats keep it.
      clock.advance(1_000);
      assert.equal((await put({ name: 'no-ttl-app', ttl: 30 })).status, 200);
      assert.equal((await shown(id)).last_client_heartbeat, (clock.now() - 1_000) / 1000);
      // Past the witness's ttl, not the new one's: the pass that stops the witness leaves the deployment running.
      clock.advance(10_000);
      await until('the witness to stop', async () => ((await shown(witness)).gantry_status === 'stopped' ? true : null));
      assert.equal((await shown(id)).endpoint_state, 'active');
      clock.advance(20_000);
      await until('the deployment to stop once its new ttl has run out', async () => ((await shown(id)).gantry_status === 'stopped' ? true : null));
    });

    it('a new ttl reaches a deployment resting at zero workers: it is stopped when that ttl runs out', async () => {
      const r = await put({ name: 'idle-ttl-app', ttl: null, min_load: 0 });
      assert.equal(r.status, 200, r.text);
      const id = r.body.deployment_id as number;
      const endpointId = (await shown(id)).endpoint_id as number;
      // Scaled to zero: no worker wanted before any benchmark either (min_workers is the endpoint's, not the deployment's).
      assert.equal((await g.api('PUT', `/api/v0/endptjobs/${endpointId}/`, { min_workers: 0 })).status, 200);
      await until('resting, scaled to zero', async () => ((await g.store.getEndpoint(endpointId))?.restUntil ?? 0) > clock.now());
      assert.equal((await put({ name: 'idle-ttl-app', ttl: 30, min_load: 0 })).status, 200);
      clock.advance(31_000);
      await until('stopped once the new ttl ran out', async () => ((await shown(id)).gantry_status === 'stopped' ? true : null));
    });
  });
}
