import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Store } from '../../src/store/store.js';
import { startTestGantry, type TestGantry } from '../helpers/gantry.js';
import { hookStoreOnce } from '../helpers/store-hook.js';
import { TEST_STORES } from '../helpers/stores.js';

type Row = Record<string, any>;
type Answer = { status: number; text: string; body: Row };

/**
 * Rules of Vast's serverless API that name other rows, held where they cannot race: an alias created while its
 * target is renamed (each order made certain by running one call inside a store method of the other), and a
 * deployment's workergroups, which stay on its endpoint and have no plain workergroup beside them.
 */
for (const ts of TEST_STORES) {
  describe(`Vast serverless: aliases and deployments' workergroups under concurrent changes (${ts.name})`, { skip: ts.skip }, () => {
    let g: TestGantry;
    let real: Store;
    before(async () => {
      g = await startTestGantry(ts, { localHost: false });
      real = g.control.ctx.store;
    });
    after(async () => {
      (g.control.ctx as { store: Store }).store = real;
      await g?.dispose();
    });

    /** Run `hook` (once) before the store's `method` runs, during `call`. */
    const inside = async <T>(method: keyof Store, hook: () => Promise<void>, call: () => Promise<T>): Promise<T> => {
      const restore = hookStoreOnce(g, real, method, hook);
      try {
        return await call();
      } finally {
        restore();
      }
    };
    const endpoints = async (): Promise<Row[]> => (await g.api('GET', '/api/v0/endptjobs/')).body.results as Row[];
    const named = async (name: string): Promise<Row | undefined> => (await endpoints()).find((e) => e.endpoint_name === name);
    const createEndpoint = (name: string, aliasOf?: string): Promise<Answer> =>
      g.api('POST', '/api/v0/endptjobs/', { endpoint_name: name, min_load: 0, cold_workers: 0, max_workers: 0, ...(aliasOf ? { alias_of: aliasOf } : {}) });
    const created = async (name: string): Promise<number> => {
      const r = await createEndpoint(name);
      assert.equal(r.status, 200, r.text);
      return r.body.id as number;
    };
    const refused = (r: Answer, status: number, code: string, msg: RegExp): void => {
      assert.deepEqual([r.status, r.body.success, r.body.code], [status, false, code], r.text);
      assert.match(r.body.msg as string, msg);
    };
    const groups = async (): Promise<Row[]> => (await g.api('GET', '/api/v0/workergroups/')).body.results as Row[];

    it("an alias created while its target's rename runs: refused, it would name what the target left", async () => {
      const target = await created('ra-target');
      let renamed: Answer | null = null;
      const alias = await inside(
        'createEndpoint',
        async () => {
          renamed = await g.api('PUT', `/api/v0/endptjobs/${target}/`, { endpoint_name: 'ra-target-2' });
        },
        () => createEndpoint('ra-alias', 'ra-target'),
      );
      assert.equal(renamed!.status, 200, renamed!.text);
      refused(alias, 404, 'ENDPOINT_NOT_FOUND', /'alias_of' names no endpoint of yours: 'ra-target'/);
      assert.equal(alias.body.error, 'not_found');
      assert.equal(await named('ra-alias'), undefined);
      assert.equal((await named('ra-target-2'))?.id, target);
    });

    it('a PUT that stops an endpoint a running alias routes to is refused whole (409 ENDPOINT_REFERENCED): its other fields are not written', async () => {
      const target = await created('rc-target');
      assert.equal((await createEndpoint('rc-alias', 'rc-target')).status, 200);
      const put = await g.api('PUT', `/api/v0/endptjobs/${target}/`, { endpoint_state: 'stopped', max_workers: 7 });
      refused(put, 409, 'ENDPOINT_REFERENCED', /route target of rc-alias/);
      // Before: the limits were written, then the stop was refused.
      const after = await named('rc-target');
      assert.deepEqual([after?.max_workers, after?.endpoint_state], [0, 'active']);
    });

    it("an alias created while its target's rename is decided: the rename is refused, the target keeps its name", async () => {
      const target = await created('rb-target');
      let alias: Answer | null = null;
      const renamed = await inside(
        'renameEndpoint',
        async () => {
          alias = await createEndpoint('rb-alias', 'rb-target');
        },
        () => g.api('PUT', `/api/v0/endptjobs/${target}/`, { endpoint_name: 'rb-target-2' }),
      );
      assert.equal(alias!.status, 200, alias!.text);
      refused(renamed, 409, 'ENDPOINT_REFERENCED', /route target of rb-alias/);
      assert.equal((await named('rb-target'))?.id, target);
      assert.equal((await named('rb-alias'))?.alias_of, 'rb-target');
    });

    it("a deployment's workergroup stays on its endpoint and is not deleted, and its endpoint takes no other: 409 DEPLOYMENT_MANAGED, nothing changed", async () => {
      const made = await g.api('POST', '/api/v0/deployments/', { name: 'dg', image: 'local/worker', search_params: 'num_gpus=1', max_workers: 0 });
      assert.equal(made.status, 200, made.text);
      const depEndpoint = made.body.deployment.endpoint_id as number;
      const depGroup = (await groups()).find((w) => w.endpoint_id === depEndpoint)?.id as number;
      assert.ok(depGroup, 'the deployment has a workergroup');
      const plain = await created('dg-plain');
      const mine = await g.api('POST', '/api/v0/autojobs/', { endpoint_id: plain, search_params: 'num_gpus=1', test_workers: 1 });
      assert.equal(mine.status, 200, mine.text);
      for (const base of ['/api/v0/autojobs', '/api/v0/workergroups']) {
        const away = await g.api('PUT', `${base}/${depGroup}/`, { endpoint_id: plain, test_workers: 5 });
        refused(
          away,
          409,
          'DEPLOYMENT_MANAGED',
          new RegExp(`Workergroup ${depGroup} is deployment \\d+'s: it stays on the deployment's endpoint ${depEndpoint}`),
        );
        assert.equal(away.body.error, 'conflict');
        const onto = await g.api('PUT', `${base}/${mine.body.id as number}/`, { endpoint_id: depEndpoint, test_workers: 5 });
        refused(
          onto,
          409,
          'DEPLOYMENT_MANAGED',
          new RegExp(`Endpoint ${depEndpoint} is deployment \\d+'s: it holds only the workergroups its deployment makes`),
        );
        const added = await g.api('POST', `${base}/`, { endpoint_id: depEndpoint, search_params: 'num_gpus=1' });
        refused(added, 409, 'DEPLOYMENT_MANAGED', new RegExp(`Endpoint ${depEndpoint} is deployment \\d+'s`));
        refused(await g.api('POST', `${base}/`, { endpoint_name: 'dg', search_params: 'num_gpus=1' }), 409, 'DEPLOYMENT_MANAGED', /deployment/);
        // Nor deleted: the deployment, left with none, could only be deleted and made again.
        const gone = await g.api('DELETE', `${base}/${depGroup}/`);
        refused(gone, 409, 'DEPLOYMENT_MANAGED', new RegExp(`Workergroup ${depGroup} is deployment \\d+'s: it goes with its deployment`));
      }
      const after = await groups();
      assert.deepEqual(
        after.filter((w) => w.endpoint_id === depEndpoint || w.endpoint_id === plain).map((w) => [w.id, w.endpoint_id, w.test_workers]),
        [
          [depGroup, depEndpoint, 3],
          [mine.body.id, plain, 1],
        ].sort((a, b) => (a[0] as number) - (b[0] as number)),
        'nothing of a refused update is applied',
      );
      // Its own endpoint sent back (a client putting back the row it read) is no move.
      assert.equal((await g.api('PUT', `/api/v0/autojobs/${depGroup}/`, { endpoint_id: depEndpoint, test_workers: 2 })).status, 200);
      const plain2 = await created('dg-plain-2');
      assert.equal((await g.api('PUT', `/api/v0/autojobs/${mine.body.id as number}/`, { endpoint_id: plain2 })).status, 200, 'plain endpoints swap groups');
    });
  });
}
