import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startTestGantry, type TestGantry } from '../helpers/gantry.js';
import { TEST_STORES } from '../helpers/stores.js';

/**
 * Numbers no column can hold (1e308, 2^63, fractions where whole numbers go) and text no process can start with
 * (NUL): a 400 naming the field on both stores, never PostgreSQL's 500 nor SQLite's stored nonsense.
 */
for (const ts of TEST_STORES) {
  describe(`numbers and commands checked at the edge (${ts.name})`, { skip: ts.skip }, () => {
    let g: TestGantry;
    let machine: number;
    before(async () => {
      g = await startTestGantry(ts);
      machine = (await g.api('GET', '/api/v0/machines/')).body.machines[0].id as number;
    });
    after(() => g.dispose());

    const refused = async (method: string, path: string, body: unknown, field: RegExp): Promise<void> => {
      const r = await g.api(method, path, body);
      assert.equal(r.status, 400, `${method} ${path} ${JSON.stringify(body)}: ${r.text}`);
      assert.equal(r.body.success, false);
      assert.match(r.body.msg, field, r.text);
    };

    it('times past year 9999, days and ids that are not whole numbers, limits with fractions', async () => {
      for (const end of [1e300, 9223372036854775807, -1]) await refused('PUT', '/api/v0/machines/create_asks/', { machine, end_date: end }, /end_date/);
      await refused('PUT', `/api/v0/machines/${machine}/dnotify/`, { sdate: 1e300, duration: 1 }, /sdate/);
      for (const q of ['sdate=1e308', 'edate=9223372036854775808', 'sdate=-1e308']) await refused('GET', `/api/v0/users/1/invoices/?${q}`, undefined, /date/);
      for (const q of ['last_days=1e308', 'sday=-1', 'eday=1e308', 'machid=1.5', 'machid=1e308'])
        await refused('GET', `/api/v0/users/me/machine-earnings/?${q}`, undefined, /last_days|sday|eday|machine id/);
      for (const team of [1.5, 1e308, '1e308']) await refused('POST', '/api/v0/auth/apikeys/', { name: 'k', team_id: team }, /team id/);
      await refused('GET', '/api/v0/audit_logs/?before_id=1e308', undefined, /audit log id/);
      await refused('GET', '/api/v0/audit_logs/?before_id=1.5', undefined, /audit log id/);
      // A fraction of a limit is read down to a whole one, as other listings do.
      const page = await g.api('GET', '/api/v0/audit_logs/?limit=1.5');
      assert.equal(page.status, 200, page.text);
      assert.ok(Array.isArray(page.body) && page.body.length <= 1);
      // What stays good: fractions of a second and of a day, as the official clients send them (time.time()).
      assert.equal((await g.api('GET', '/api/v0/users/1/invoices/?sdate=1700000000.5')).status, 200);
      for (const q of ['sday=20794.0513020129&eday=20794.0513020129&machid=null', 'last_days=0.1234567'])
        assert.equal((await g.api('GET', `/api/v0/users/me/machine-earnings/?${q}`)).status, 200, q);
    });

    it('a NUL in what a workload is started with is refused at the request, not at its start', async () => {
      const offer = machine * 1000 + 1;
      for (const body of [
        { image: 'local/shell', runtype: 'args', args_str: 'echo a\u0000b' },
        { image: 'local/shell', entrypoint: '/bin/e\u0000cho' },
        { image: 'local/shell', onstart: 'echo a\u0000b' },
      ])
        await refused('PUT', `/api/v0/asks/${offer}/`, body, /NUL/);
      assert.equal((await g.api('GET', '/api/v0/instances/')).body.instances.length, 0, 'nothing was created');
      const made = await g.api('PUT', `/api/v0/asks/${offer}/`, { image: 'local/shell', onstart: 'sleep 600' });
      assert.equal(made.status, 200, made.text);
      await refused('PUT', `/api/v0/instances/command/${made.body.new_contract}/`, { command: 'ls \u0000' }, /NUL/);
      assert.equal((await g.api('DELETE', `/api/v0/instances/${made.body.new_contract}/`)).status, 200);
      await refused('POST', '/api/v0/template/', { name: 't', image: 'local/shell', onstart: 'a\u0000' }, /NUL/);
    });

    it('a workergroup or a template may not ask for more disk or GPU memory than could exist', async () => {
      const ep = await g.api('POST', '/api/v0/endptjobs/', { endpoint_name: 'big' });
      assert.equal(ep.status, 200, ep.text);
      const endpoint_id = ep.body.result as number;
      for (const extra of [{ disk: 1e308 }, { disk: '9223372036854775808' }, { gpu_ram: 1e308 }, { onstart: 'x\u0000' }])
        await refused('POST', '/api/v0/workergroups/', { endpoint_id, image: 'local/shell', ...extra }, /disk|gpu_ram|NUL/);
      await refused('POST', '/api/v0/template/', { name: 't', image: 'local/shell', recommended_disk_space: 1e308 }, /recommended_disk_space/);
      for (const end of [1e308, -1]) await refused('POST', '/api/v0/volumes/', { machine, size: 1, end_date: end }, /end_date/);
    });
  });
}
