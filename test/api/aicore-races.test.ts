import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Store } from '../../src/store/store.js';
import { idleTemplate } from '../fixtures/aicore/bulk-templates.js';
import { servingTemplate } from '../fixtures/aicore/templates.js';
import { lm } from '../helpers/aicore.js';
import { startTestGantry, type TestGantry } from '../helpers/gantry.js';
import { SERVERLESS_FAST, until } from '../helpers/serverless.js';
import { TEST_STORES } from '../helpers/stores.js';
import { illegal, recordTransitions, type Transition } from '../helpers/transitions.js';

const SHARED = { ...SERVERLESS_FAST, adminKey: 'gnt_aicore_races_admin', secret: 'aicore-races-secret' };
const DEPLOYMENTS = '/v2/lm/deployments';
const MERGE_PATCH = { contentType: 'application/merge-patch+json' };
const SERVER = `["node", "-e", "require('http').createServer((q, s) => s.end('ok')).listen(process.env.PORT)"]`;

/**
 * AI Core deployment calls that conflict, at the same moment (on PostgreSQL every other one through a second
 * replica): stop and start, a bulk change beside a delete, a delete while the first pass schedules the deployment.
 * Every call answers 202 or AI Core's error body, and every status written is an edge of the lifecycle.
 */
for (const ts of TEST_STORES)
  describe(`AI Core deployment calls at once (${ts.name})`, { skip: ts.skip, timeout: 300_000 }, () => {
    let a: TestGantry;
    let b: TestGantry;
    let key: string;
    let idleConfig: string;
    let liveConfig: string;
    const seen: { transitions: Transition[]; restore(): void }[] = [];
    before(async () => {
      a = await startTestGantry(ts, { gpus: '4x RTX 4090:24GB', settings: SHARED });
      b = ts.name === 'postgres' ? await startTestGantry(ts, { database: a.database, localHost: false, settings: SHARED }) : a;
      const u = await a.api('POST', '/api/v0/users/', { username: 'racer', credit: 100 });
      assert.equal(u.status, 200, u.text);
      key = u.body.api_key as string;
      const t = await lm(
        a,
        key,
        'POST',
        '/v2/admin/servingTemplates',
        {
          files: [
            { name: 'idle.yaml', content: idleTemplate('idle-race', 'races') },
            { name: 'live.yaml', content: servingTemplate({ id: 'live-race', scenario: 'races', minReplicas: 1, command: SERVER }) },
          ],
        },
        { group: null },
      );
      assert.equal(t.status, 201, t.text);
      const config = async (executableId: string) => {
        const c = await lm(a, key, 'POST', '/v2/lm/configurations', {
          name: `${executableId}-c`,
          scenarioId: 'races',
          executableId,
          parameterBindings: [],
          inputArtifactBindings: [],
        });
        assert.equal(c.status, 201, c.text);
        return c.body.id as string;
      };
      idleConfig = await config('idle-race');
      liveConfig = await config('live-race');
      for (const g of b === a ? [a] : [a, b]) seen.push(recordTransitions(g));
    });
    after(async () => {
      for (const s of seen) s.restore();
      if (b !== a) await b.dispose();
      await a.dispose();
    });

    const at = (i: number): TestGantry => (i % 2 === 0 ? a : b);
    const call = (i: number, method: string, path: string, body?: unknown, o?: { contentType?: string }) => lm(at(i), key, method, path, body, o);
    const deploy = async (configurationId: string) => {
      const d = await call(0, 'POST', DEPLOYMENTS, { configurationId });
      assert.equal(d.status, 202, d.text);
      return d.body.id as string;
    };
    const statusOf = async (id: string) => {
      const r = await call(0, 'GET', `${DEPLOYMENTS}/${id}?$select=status`);
      return r.status === 200 ? (r.body.status as string) : `HTTP ${r.status}`;
    };
    const untilStatus = (id: string, ...s: string[]) => until(`${id} ${s.join('|')}`, async () => s.includes(await statusOf(id)) && (await statusOf(id)));
    /** 202, or AI Core's error body with a 4xx. */
    const definite = (r: { status: number; body: any; text: string }) => {
      if (r.status === 202) return;
      assert.ok(r.status >= 400 && r.status < 500, r.text);
      assert.equal(typeof r.body.error?.message, 'string', r.text);
      assert.equal(typeof r.body.error?.code, 'string', r.text);
    };
    const legal = () => assert.deepEqual(illegal(seen.flatMap((s) => s.transitions)), []);
    const patch = (i: number, id: string, targetStatus: string) => call(i, 'PATCH', `${DEPLOYMENTS}/${id}`, { targetStatus });

    it('stop and start of a running deployment at once, both ways round: each answered, it settles as the answers say', async () => {
      const id = await deploy(liveConfig);
      await untilStatus(id, 'RUNNING');
      const [stop, start] = await Promise.all([patch(0, id, 'STOPPED'), patch(1, id, 'RUNNING')]);
      assert.equal(stop.status, 202, stop.text);
      definite(start);
      assert.equal(start.status, 412, 'a start of a deployment running or stopping is refused');
      await untilStatus(id, 'STOPPED');
      const [start2, stop2] = await Promise.all([patch(1, id, 'RUNNING'), patch(0, id, 'STOPPED')]);
      assert.equal(start2.status, 202, start2.text);
      definite(stop2);
      // The stop after the start stops it again; before it, it is refused (already stopped).
      const settled = await untilStatus(id, 'RUNNING', 'STOPPED');
      assert.equal(settled, stop2.status === 202 ? 'STOPPED' : 'RUNNING');
      if (settled === 'RUNNING') {
        assert.equal((await patch(0, id, 'STOPPED')).status, 202);
        await untilStatus(id, 'STOPPED');
      }
      const del = await call(1, 'DELETE', `${DEPLOYMENTS}/${id}`);
      assert.equal(del.status, 202, del.text);
      await untilStatus(id, 'HTTP 404');
      legal();
    });

    it('a bulk PATCH naming a deployment a DELETE removes at the same moment: 202, that item answered alone', async () => {
      const [x, y] = [await deploy(idleConfig), await deploy(idleConfig)];
      await untilStatus(x, 'PENDING');
      await untilStatus(y, 'PENDING');
      assert.equal((await patch(0, y, 'STOPPED')).status, 202);
      await untilStatus(y, 'STOPPED');
      const [bulk, del] = await Promise.all([
        call(
          0,
          'PATCH',
          DEPLOYMENTS,
          {
            deployments: [
              { id: x, targetStatus: 'STOPPED' },
              { id: y, targetStatus: 'DELETED' },
            ],
          },
          MERGE_PATCH,
        ),
        call(1, 'DELETE', `${DEPLOYMENTS}/${y}`),
      ]);
      assert.equal(bulk.status, 202, bulk.text);
      definite(del);
      const [rx, ry] = bulk.body.deployments as any[];
      assert.equal(rx.message, 'Deployment modification scheduled', JSON.stringify(rx));
      // One of the two deletes wins; the other is refused (412, it is being deleted) or, found gone, 404.
      assert.equal(Number(del.status === 202) + Number(ry.error === undefined), 1, `${del.text} ${JSON.stringify(ry)}`);
      if (ry.error !== undefined) assert.equal(typeof ry.error.code, 'string', JSON.stringify(ry));
      await untilStatus(y, 'HTTP 404');
      await untilStatus(x, 'STOPPED');
      legal();
    });

    it('a DELETE decided while the deployment is UNKNOWN, written after the first pass made it PENDING, is refused 412', async () => {
      const real = a.control.ctx.store;
      // Every replica's loop waits at its next claim until the delete has read the deployment.
      let release!: () => void;
      const gate = new Promise<void>((r) => (release = r));
      let endpointId = 0;
      let held = 0;
      const restores = (b === a ? [a] : [a, b]).map((g) => {
        const ctx = g.control.ctx as { store: Store };
        const recording = ctx.store;
        let claimHeld = false;
        ctx.store = new Proxy({} as Store, {
          get: (_, k) => {
            const fn = (Reflect.get(recording, k) as (...x: unknown[]) => Promise<unknown>).bind(recording);
            if (k === 'claimEndpoints' && !claimHeld)
              return async (...x: unknown[]) => {
                claimHeld = true;
                held++;
                await gate;
                return fn(...x);
              };
            if (k === 'writeEndpointIntent' && g === a && endpointId !== 0)
              return async (...x: unknown[]) => {
                release();
                await until('the first pass', async () => (await real.getEndpoint(endpointId))?.status !== 'unknown');
                return fn(...x);
              };
            return fn;
          },
        });
        return () => {
          ctx.store = recording;
        };
      });
      let id = '';
      try {
        await until('the loops held', () => held === restores.length);
        id = await deploy(idleConfig);
        const accountId = (await a.control.authenticate(key)).accountId;
        endpointId = (await real.listDeployments(accountId)).find((d) => d.uid === id)?.endpointId ?? 0;
        assert.equal(await statusOf(id), 'UNKNOWN');
        const del = await call(0, 'DELETE', `${DEPLOYMENTS}/${id}`);
        definite(del);
        // Before: the write checked only the generation (a pass keeps it), so a PENDING deployment was deleted, 202.
        assert.equal(del.status, 412, del.text);
        assert.equal(del.body.error.code, 'ILLEGAL_TRANSITION');
      } finally {
        release();
        for (const r of restores) r();
      }
      assert.equal(await statusOf(id), 'PENDING');
      legal();
    });
  });
