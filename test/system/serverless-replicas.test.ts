import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startTestGantry, type TestGantry } from '../helpers/gantry.js';
import { call, createDeployment, SERVERLESS_FAST, until, workersOf } from '../helpers/serverless.js';
import { TEST_STORES } from '../helpers/stores.js';

const pg = TEST_STORES.find((s) => s.name === 'postgres');
// An endpoint scaled to zero rests for an hour unless something wakes it (decision 026).
const shared = { ...SERVERLESS_FAST, idleEndpointRecheckMs: 3_600_000, adminKey: 'gnt_replicas_test_admin', secret: 'replicas-test-secret' };

// Two control planes on one PostgreSQL; only the first has the host (two GPUs). Requests enter through the second.
// Each test deploys its own one-worker endpoint, so either runs alone or in any order.
describe('serverless across two replicas on one PostgreSQL', { skip: pg?.skip ?? 'no postgres' }, () => {
  let a: TestGantry;
  let b: TestGantry;
  before(async () => {
    a = await startTestGantry(pg!, { gpus: '2x RTX 4090:24GB', settings: shared });
    b = await startTestGantry(pg!, { database: a.database, localHost: false, settings: shared });
  });
  after(async () => {
    await b.dispose();
    await a.dispose();
  });

  /** A deployment of one worker (one GPU) that is Ready. */
  const readyDeployment = async (name: string): Promise<{ id: number; endpointId: number }> => {
    const d = await createDeployment(a, name, { min_load: 1, max_workers: 1 });
    await until(`a ready worker for ${name}`, async () => (await workersOf(a, d.endpointId)).some((w) => w.status === 'Ready'));
    return d;
  };

  it('routes through either replica and signs with one key', async () => {
    await readyDeployment('routed');
    assert.equal((await call(b, 'routed', '/via-b')).status, 200);
    const [ka, kb] = await Promise.all([a, b].map(async (g) => (await fetch(`${g.url}/pubkey/`)).text()));
    assert.equal(ka, kb);
  });

  it('an endpoint scaled to zero rests; a request entering at the other replica wakes it and is answered', async () => {
    const d = await createDeployment(a, 'idle', { min_load: 0, max_workers: 1 });
    await until('resting, scaled to zero', async () => ((await a.store.getEndpoint(d.endpointId))?.restUntil ?? 0) > Date.now());
    const answered = await call(b, 'idle', '/via-b');
    assert.equal(answered.status, 200, 'held at b while a worker was recruited on a');
    assert.equal((await a.api('DELETE', `/api/v0/deployment/${d.id}/`)).status, 200);
    await until('deleted', async () => (await a.store.getEndpoint(d.endpointId))?.status === 'deleted');
  });

  it('a drain waits for requests queued at the other replica: count sent = count answered', async () => {
    const d = await readyDeployment('drained');
    const sent = 8;
    const reqs = Array.from({ length: sent }, (_, i) => call(b, 'drained', `/d?ms=400&i=${i}`));
    // All held by replica b (its own deployment row shows its queue) before replica a is asked to stop.
    await until('all requests held by b', async () => {
      const x = (await b.api('GET', `/api/v0/deployment/${d.id}/`)).body.deployment;
      return x.queued_requests + x.requests_in_flight === sent;
    });
    const stop = await a.api('POST', `/api/v0/deployment/${d.id}/stop/`, { finish_pending_work: true, timeout: 60 });
    assert.equal(stop.status, 200);
    const answers = await Promise.all(reqs);
    assert.deepEqual(
      answers.map((r) => r.status),
      Array(sent).fill(200),
    );
    await until('stopped', async () => (await a.api('GET', `/api/v0/deployment/${d.id}/`)).body.deployment.gantry_status === 'stopped');
  });
});
