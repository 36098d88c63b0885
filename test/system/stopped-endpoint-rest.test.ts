import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { lm } from '../helpers/aicore.js';
import { startTestGantry, type TestGantry } from '../helpers/gantry.js';
import { SERVERLESS_FAST, until } from '../helpers/serverless.js';
import { TEST_STORES } from '../helpers/stores.js';
import { servingTemplate } from '../fixtures/aicore/templates.js';

const HOUR = 3_600_000;
const DEPLOYMENTS = '/v2/lm/deployments';
const TEMPLATE = servingTemplate({ id: 'rest-exe', scenario: 'rest-scn', params: { modelName: 'tiny' }, minReplicas: 0, image: 'x' });

/**
 * A stopped endpoint rests: the serverless loop, which passes every live endpoint each
 * autoscaleIntervalMs, passes a stopped one only every stoppedEndpointRecheckMs (an hour here), when a
 * start wakes it, or when its deployment's ttl runs out. No host: the deployments never get a worker, so
 * nothing here starts a process, and the control plane's clock is moved instead of waited for.
 */
for (const ts of TEST_STORES)
  describe(`a stopped endpoint rests (${ts.name})`, { skip: ts.skip }, () => {
    let g: TestGantry;
    let key: string;
    let configurationId: string;
    let ahead = 0;
    const clock = { now: () => Date.now() + ahead };
    const call = (method: string, path: string, body?: unknown) => lm(g, key, method, path, body);
    const status = async (id: string) => (await call('GET', `${DEPLOYMENTS}/${id}`)).body.status as string;
    const endpointOf = async (id: string) => {
      const d = await g.store.findDeploymentByUid(id);
      assert.ok(d, `deployment ${id}`);
      return (await g.store.getEndpoint(d.endpointId))!;
    };
    const stopped = async (ttl?: string): Promise<string> => {
      const created = await call('POST', DEPLOYMENTS, { configurationId, ...(ttl !== undefined ? { ttl } : {}) });
      assert.equal(created.status, 202, created.text);
      const id = created.body.id as string;
      await until(`deployment ${id} pending`, async () => (await status(id)) === 'PENDING');
      assert.equal((await call('PATCH', `${DEPLOYMENTS}/${id}`, { targetStatus: 'STOPPED' })).status, 202);
      await until(`deployment ${id} stopped`, async () => (await status(id)) === 'STOPPED');
      await until(`deployment ${id} resting`, async () => ((await endpointOf(id)).restUntil ?? 0) > clock.now());
      return id;
    };

    before(async () => {
      g = await startTestGantry(ts, { localHost: false, clock, settings: { ...SERVERLESS_FAST, stoppedEndpointRecheckMs: HOUR, idleEndpointRecheckMs: HOUR } });
      key = g.adminKey as string;
      assert.equal(
        (await lm(g, key, 'POST', '/v2/admin/servingTemplates', { files: [{ name: 'rest.yaml', content: TEMPLATE }] }, { group: null })).status,
        201,
      );
      const conf = await call('POST', '/v2/lm/configurations', { name: 'rest', executableId: 'rest-exe', scenarioId: 'rest-scn' });
      assert.equal(conf.status, 201, conf.text);
      configurationId = conf.body.id;
    });
    after(() => g?.dispose());

    it('is passed by at every tick, then once its rest ends; a start wakes it at once', async () => {
      const id = await stopped();
      const rest = (await endpointOf(id)).restUntil as number;
      assert.ok(rest > clock.now() + HOUR - 60_000, 'it rests for stoppedEndpointRecheckMs');
      // Each pass would write its own now + an hour: ten ticks of the loop pass it by.
      await new Promise((r) => setTimeout(r, 10 * SERVERLESS_FAST.autoscaleIntervalMs));
      assert.equal((await endpointOf(id)).restUntil, rest, 'no pass while it rests');

      ahead += HOUR;
      await until('a pass once its rest ended, which rests it again', async () => ((await endpointOf(id)).restUntil ?? 0) > rest);
      assert.equal(await status(id), 'STOPPED');

      assert.equal((await call('PATCH', `${DEPLOYMENTS}/${id}`, { targetStatus: 'RUNNING' })).status, 202);
      const resting = async () => ((await endpointOf(id)).restUntil ?? 0) > clock.now();
      assert.equal(await resting(), false, 'the start ended its rest');
      await until('the start acted on (no host: it waits for one)', async () => (await status(id)) === 'PENDING');
      // Scaled to zero (minReplicas 0), asked for nothing: it rests as an idle endpoint (decision 026).
      const idle = await until('resting again, running', async () => {
        const r = (await endpointOf(id)).restUntil ?? 0;
        return r > clock.now() ? r : null;
      });
      assert.ok(idle > clock.now() + HOUR - 60_000, 'for idleEndpointRecheckMs');
      assert.equal((await call('PATCH', `${DEPLOYMENTS}/${id}`, { targetStatus: 'STOPPED' })).status, 202);
      await until('stopped again', async () => (await status(id)) === 'STOPPED');
    });

    it('a workergroup moved off a resting endpoint wakes it (its workers, were there any, are its to retire)', async () => {
      const made = async (name: string) => (await g.api('POST', '/api/v0/endptjobs/', { endpoint_name: name, min_load: 0, cold_workers: 0 })).body.id as number;
      const [from, to] = [await made('rest-from'), await made('rest-to')];
      const wg = await g.api('POST', '/api/v0/workergroups/', { endpoint_id: from, search_params: 'num_gpus=1', launch_args: '--image busybox' });
      assert.equal(wg.status, 200, wg.text);
      assert.equal((await g.api('PUT', `/api/v0/endptjobs/${from}/`, { endpoint_state: 'stopped' })).status, 200);
      await until('the endpoint resting', async () => ((await g.store.getEndpoint(from))?.restUntil ?? 0) > clock.now());
      const rest = (await g.store.getEndpoint(from))?.restUntil;
      const moved = await g.api('PUT', `/api/v0/workergroups/${wg.body.id as number}/`, { endpoint_id: to });
      assert.equal(moved.status, 200, moved.text);
      // Awake only until its next pass, which may rest it again (from a later time): either shows the wake.
      await until(
        'woken',
        async () => {
          const now = (await g.store.getEndpoint(from))?.restUntil ?? 0;
          return now <= clock.now() || now !== rest;
        },
        10_000,
      );
    });

    it("rests no longer than its deployment's ttl: deleted when the ttl runs out", async () => {
      const id = await stopped('10m');
      const d = await g.store.findDeploymentByUid(id);
      assert.equal((await endpointOf(id)).restUntil, d?.expiresAt, 'the rest ends with the ttl');
      ahead += 10 * 60_000;
      await until('the deployment deleted at its ttl', async () => (await call('GET', `${DEPLOYMENTS}/${id}`)).status === 404);
    });
  });
