import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startTestGantry, type TestGantry } from '../helpers/gantry.js';
import { until } from '../helpers/serverless.js';
import { TEST_STORES } from '../helpers/stores.js';

type Row = Record<string, any>;

/**
 * Route aliases name their target by name (`alias_of`) and a deployment names its endpoint: renames
 * through `PUT /api/v0/endptjobs/{id}/` keep both true, `alias_of` on an update is never dropped
 * silently, and a malformed endpoint id in a body is a 400 as in a path. No workers are involved.
 */
for (const ts of TEST_STORES) {
  describe(`endpoint renames and aliases (${ts.name})`, { skip: ts.skip }, () => {
    let g: TestGantry;
    before(async () => {
      g = await startTestGantry(ts, { localHost: false });
    });
    after(() => g?.dispose());

    const endpoints = async (): Promise<Row[]> => (await g.api('GET', '/api/v0/endptjobs/')).body.results as Row[];
    const named = async (name: string): Promise<Row | undefined> => (await endpoints()).find((e) => e.endpoint_name === name);
    const create = async (name: string, aliasOf?: string): Promise<number> => {
      const r = await g.api('POST', '/api/v0/endptjobs/', {
        endpoint_name: name,
        min_load: 0,
        cold_workers: 0,
        max_workers: 0,
        ...(aliasOf ? { alias_of: aliasOf } : {}),
      });
      assert.equal(r.status, 200, r.text);
      return r.body.id as number;
    };
    const put = (id: number, body: Row) => g.api('PUT', `/api/v0/endptjobs/${id}/`, body);
    const refused = (r: { status: number; text: string; body: Row }, status: number, code: string, msg: RegExp): void => {
      assert.deepEqual([r.status, r.body.success, r.body.code], [status, false, code], r.text);
      assert.match(r.body.msg as string, msg);
    };

    it("an alias's target keeps its name, so an alias can never route to itself nor to an alias", async () => {
      const target = await create('cyc-target');
      const alias = await create('cyc-alias', 'cyc-target');
      refused(await put(target, { endpoint_name: 'cyc-target-old' }), 409, 'ENDPOINT_REFERENCED', /route target of cyc-alias/);
      // Renamed, the target would leave its name to whatever took it next: the alias would silently route there.
      refused(await put(alias, { endpoint_name: 'cyc-target' }), 400, 'INVALID_ARGUMENT', /route to itself/);
      assert.equal((await named('cyc-target'))?.id, target);
      assert.equal((await named('cyc-alias'))?.alias_of, 'cyc-target');
      // Cycles the same way: pp keeps its name while qq routes to it.
      const pp = await create('pp');
      await create('qq', 'pp');
      refused(await put(pp, { endpoint_name: 'pp-old' }), 409, 'ENDPOINT_REFERENCED', /qq/);
      // Its name sent back as it is (Vast's CLI sends endpoint_name with every update) is no rename; an alias may be renamed.
      assert.equal((await put(target, { endpoint_name: 'cyc-target', max_workers: 1 })).status, 200);
      assert.equal((await put(alias, { endpoint_name: 'cyc-alias-2' })).status, 200);
      assert.equal((await named('cyc-alias-2'))?.alias_of, 'cyc-target');
      // Once nothing routes to it, the target is renamed as any endpoint.
      assert.equal((await g.api('DELETE', `/api/v0/endptjobs/${alias}/`)).status, 200);
      await until('the alias gone', async () => (await named('cyc-alias-2')) === undefined);
      assert.equal((await put(target, { endpoint_name: 'cyc-target-old' })).status, 200, 'renamed');
    });

    it("an alias whose target was deleted takes neither the target's name nor one other aliases route to", async () => {
      await create('home');
      const target = await create('gone');
      const alias = await create('gone-alias', 'gone');
      const other = await create('other-alias', 'home');
      // The stop protection is passed over with force; the alias now names nothing.
      assert.equal((await g.api('DELETE', `/api/v0/endptjobs/${target}/`, { force: true })).status, 200);
      await until('the target gone', async () => (await named('gone')) === undefined);
      refused(await put(alias, { endpoint_name: 'gone' }), 400, 'INVALID_ARGUMENT', /route to itself/);
      refused(await put(other, { endpoint_name: 'gone' }), 400, 'INVALID_ARGUMENT', /gone-alias routes to 'gone'/);
      const chained = await g.api('POST', '/api/v0/endptjobs/', { endpoint_name: 'gone', alias_of: 'home' });
      refused(chained, 400, 'INVALID_ARGUMENT', /gone-alias routes to 'gone'/);
      refused(await g.api('POST', '/api/v0/endptjobs/', { endpoint_name: 'self', alias_of: 'self' }), 400, 'INVALID_ARGUMENT', /alias of itself/);
      assert.equal((await named('gone-alias'))?.alias_of, 'gone');
      assert.equal((await named('other-alias'))?.alias_of, 'home');
      // A plain endpoint of that name is what the alias routes to from then on: the name is what it names.
      await create('gone');
    });

    it('alias_of on an update: the value the endpoint has is taken, another is a 400 and changes nothing', async () => {
      const target = await create('al-target');
      const alias = await create('al-alias', 'al-target');
      for (const [id, aliasOf] of [
        [alias, 'al3'],
        [alias, null],
        [target, 'al-alias'],
        [target, 'cyc-target'],
      ] as const) {
        refused(await put(id, { alias_of: aliasOf, max_workers: 3 }), 400, 'INVALID_ARGUMENT', /'alias_of' is set when an endpoint is created/);
      }
      assert.equal((await named('al-alias'))?.alias_of, 'al-target');
      assert.equal((await named('al-target'))?.alias_of, null);
      assert.equal((await named('al-target'))?.max_workers, 0, 'nothing of a refused update is applied');
      assert.equal((await put(alias, { alias_of: 'al-target' })).status, 200);
      assert.equal((await put(target, { alias_of: null })).status, 200);
    });

    it("a deployment's endpoint keeps the deployment's name: one name, one deployment", async () => {
      const made = await g.api('POST', '/api/v0/deployments/', { name: 'echo', image: 'local/worker', search_params: 'num_gpus=1', max_workers: 0 });
      assert.equal(made.status, 200, made.text);
      const endpointId = made.body.deployment.endpoint_id as number;
      refused(await put(endpointId, { endpoint_name: 'echo-renamed' }), 400, 'INVALID_ARGUMENT', /deployment's endpoint keeps its name/);
      assert.equal((await put(endpointId, { endpoint_name: 'echo', max_workers: 0 })).status, 200);
      const again = await g.api('POST', '/api/v0/deployments/', { name: 'echo', image: 'local/worker', search_params: 'num_gpus=1', max_workers: 0 });
      assert.equal(again.status, 409, again.text);
      const echoes = ((await g.api('GET', '/api/v0/deployments/')).body.deployments as Row[]).filter((d) => d.name === 'echo');
      assert.equal(echoes.length, 1);
    });

    it('workergroups: a malformed endpoint_id is a 400, and no workergroup moves to an alias', async () => {
      for (const path of ['/api/v0/workergroups/', '/api/v0/autojobs/']) {
        for (const bad of [-1, 0, 1.5, 1e300, 'x']) {
          const r = await g.api('POST', path, { endpoint_id: bad, search_params: 'num_gpus=1' });
          refused(r, 400, 'INVALID_ARGUMENT', /endpoint id must be a positive integer/);
        }
      }
      const ep = await create('wg-home');
      const wg = await g.api('POST', '/api/v0/workergroups/', { endpoint_id: ep, search_params: 'num_gpus=1' });
      assert.equal(wg.status, 200, wg.text);
      for (const bad of [-1, 1.5, 1e300]) {
        refused(await g.api('PUT', `/api/v0/workergroups/${wg.body.id}/`, { endpoint_id: bad }), 400, 'INVALID_ARGUMENT', /endpoint id/);
      }
      const alias = await create('wg-alias', 'wg-home');
      refused(await g.api('PUT', `/api/v0/workergroups/${wg.body.id}/`, { endpoint_id: alias }), 400, 'INVALID_ARGUMENT', /route alias/);
      refused(await g.api('DELETE', '/api/v0/template/', { template_id: 1.5 }), 400, 'INVALID_ARGUMENT', /template id/);
    });
  });
}
