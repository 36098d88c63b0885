import assert from 'node:assert/strict';
import { readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startTestGantry, type TestGantry } from '../helpers/gantry.js';
import { ONE_STORE } from '../helpers/stores.js';

/** The whole instance lifecycle of Vast's REST guide, over real HTTP and real processes, on every store. */
for (const ts of ONE_STORE) {
  describe(`vast instance lifecycle (${ts.name})`, { skip: ts.skip }, () => {
    let g: TestGantry;
    before(async () => {
      // A long grace period: the slow-stop test must create another instance while one is still stopping.
      g = await startTestGantry(ts, { gpus: '2x RTX 4090:24GB', settings: { stopGraceMs: 5000, maxResultsPerAccount: 2 } });
    });
    after(() => g.dispose());

    const offers = async (body: unknown = {}) => (await g.api('POST', '/api/v0/bundles/', body)).body.offers as Record<string, unknown>[];
    const create = async (offer: number, body: unknown) => g.api('PUT', `/api/v0/asks/${offer}/`, body);
    const running = (r: Record<string, unknown>) => r.actual_status === 'running';

    it('shows the account behind the key', async () => {
      const r = await g.api('GET', '/api/v0/users/current/');
      assert.equal(r.status, 200);
      assert.equal(r.body.username, 'admin');
    });

    it('searches offers of the embedded host with Vast query JSON', async () => {
      const all = await offers({ num_gpus: { gte: 1 }, rentable: { eq: true }, order: [['dph_total', 'asc']] });
      assert.deepEqual(
        all.map((o) => o.num_gpus),
        [1, 2],
      );
      const o = all[0] as Record<string, unknown>;
      for (const f of [
        'id',
        'machine_id',
        'gpu_name',
        'num_gpus',
        'gpu_ram',
        'gpu_total_ram',
        'cpu_cores',
        'cpu_ram',
        'disk_space',
        'dph_total',
        'dph_base',
        'storage_cost',
        'inet_up',
        'inet_down',
        'reliability',
        'verified',
        'rentable',
        'direct_port_count',
        'dlperf',
        'dlperf_per_dphtotal',
        'geolocation',
        'cuda_max_good',
        'driver_version',
      ]) {
        assert.ok(f in o, `offer has ${f}`);
      }
      assert.equal(o.gpu_declared, true);
      assert.equal(o.verified, true);
      assert.equal(o.gpu_ram, 24000);
      assert.equal((await offers({ gpu_name: { eq: 'RTX_4090' }, num_gpus: { eq: '2' } })).length, 1);
      assert.equal((await offers({ gpu_name: { eq: 'A100' } })).length, 0);
      assert.equal((await offers({ limit: 1 })).length, 1);
    });

    it('runs the guide: create → running → logs → stop → start → destroy', async () => {
      const c = await create(1001, {
        image: 'pytorch/pytorch:2.4.0-cuda12.4-cudnn9-runtime',
        disk: 10,
        label: 'guide',
        env: '-e GREETING=hello -p 8080:8080',
        onstart: 'echo $GREETING from $CONTAINER_ID gpus=$CUDA_VISIBLE_DEVICES key=${CONTAINER_API_KEY:0:4}; exec python3 -m http.server $VAST_TCP_PORT_8080',
      });
      assert.equal(c.status, 200, c.text);
      assert.equal(c.body.success, true);
      const id = c.body.new_contract as number;
      assert.match(c.body.instance_api_key, /^gik_/);
      const row = await g.waitInstance(id, running);
      assert.equal(row.intended_status, 'running');
      assert.equal(row.label, 'guide');
      assert.equal(row.image_uuid, 'pytorch/pytorch:2.4.0-cuda12.4-cudnn9-runtime');
      assert.match(String(row.status_msg), /image is recorded but not pulled/);
      assert.equal(typeof row.start_date, 'number');
      assert.deepEqual(row.extra_env, [
        ['GREETING', 'hello'],
        ['-p 8080:8080', '1'],
      ]);
      const port = Number((row.ports as Record<string, { HostPort: string }[]>)['8080/tcp']?.[0]?.HostPort);
      assert.ok(port >= 20000);
      // The workload really serves on its mapped port.
      let served = false;
      for (let i = 0; i < 100 && !served; i++) {
        served = await fetch(`http://127.0.0.1:${port}/`).then(
          (r) => r.ok,
          () => false,
        );
        if (!served) await new Promise((r) => setTimeout(r, 50));
      }
      assert.ok(served, 'http.server answers on the mapped port');
      // The one offer with its GPU rented is gone.
      assert.deepEqual(
        (await offers({})).map((o) => o.num_gpus),
        [1],
      );

      const logs = await g.api('PUT', `/api/v0/instances/request_logs/${id}/`, { tail: 50 });
      assert.equal(logs.status, 200);
      const text = await (await fetch(logs.body.result_url)).text(); // no auth, as Vast clients fetch it
      assert.match(text, new RegExp(`hello from ${id} gpus=0 key=gik_`));
      const filtered = await g.api('PUT', `/api/v0/instances/request_logs/${id}/`, { tail: 5, filter: 'nothing-matches' });
      assert.equal(await (await fetch(filtered.body.result_url)).text(), '');
      // An account keeps its newest maxResultsPerAccount results (2 here): a third ends the first.
      const third = await g.api('PUT', `/api/v0/instances/request_logs/${id}/`, { tail: 1 });
      assert.equal((await fetch(logs.body.result_url)).status, 404);
      assert.equal((await fetch(third.body.result_url)).status, 200);

      const stop = await g.api('PUT', `/api/v0/instances/${id}/`, { state: 'stopped' });
      assert.equal(stop.status, 200);
      assert.equal(stop.body.success, true);
      const stopped = await g.waitInstance(id, (r) => r.actual_status === 'stopped');
      assert.equal(stopped.intended_status, 'stopped');
      assert.equal(
        await fetch(`http://127.0.0.1:${port}/`).then(
          () => 'up',
          () => 'down',
        ),
        'down',
        'processes are gone',
      );
      assert.deepEqual(
        (await offers({ order: [['num_gpus', 'asc']] })).map((o) => o.num_gpus),
        [1, 2],
        'GPUs released on stop',
      );
      // A second stop is idempotent.
      assert.equal((await g.api('PUT', `/api/v0/instances/${id}/`, { state: 'stopped' })).status, 200);
      // The disk stays.
      await writeFile(join(g.dataDir, 'instances', String(id), 'disk', 'kept.txt'), 'x');

      assert.equal((await g.api('PUT', `/api/v0/instances/${id}/`, { state: 'running' })).status, 200);
      await g.waitInstance(id, running);
      assert.equal(await readFile(join(g.dataDir, 'instances', String(id), 'disk', 'kept.txt'), 'utf8'), 'x');

      const del = await g.api('DELETE', `/api/v0/instances/${id}/`);
      assert.equal(del.status, 200);
      const deadline = Date.now() + 15_000;
      while ((await g.api('GET', `/api/v0/instances/${id}/`)).status !== 404 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      const gone = await g.api('GET', `/api/v0/instances/${id}/`);
      assert.equal(gone.status, 404);
      assert.deepEqual(gone.body, { success: false, error: 'not_found', msg: `No instance with id ${id}.`, code: 'INSTANCE_NOT_FOUND', instances: null });
      await assert.rejects(stat(join(g.dataDir, 'instances', String(id))), 'disk gone');
      assert.deepEqual(
        (await offers({ order: [['num_gpus', 'asc']] })).map((o) => o.num_gpus),
        [1, 2],
        'GPUs free',
      );
      // Illegal: anything on a destroyed instance.
      assert.equal((await g.api('PUT', `/api/v0/instances/${id}/`, { state: 'running' })).status, 404);
    });

    it('keeps a stopped instance stopped when its GPUs were taken meanwhile', async () => {
      const a = (await create(1002, { onstart: 'sleep 300' })).body.new_contract as number;
      await g.waitInstance(a, running);
      await g.api('PUT', `/api/v0/instances/${a}/`, { state: 'stopped' });
      await g.waitInstance(a, (r) => r.actual_status === 'stopped');
      const b = (await create(1002, { onstart: 'sleep 300' })).body.new_contract as number;
      const start = await g.api('PUT', `/api/v0/instances/${a}/`, { state: 'running' });
      assert.equal(start.status, 409);
      assert.equal(start.body.code, 'GPUS_UNAVAILABLE');
      const row = (await g.api('GET', `/api/v0/instances/${a}/`)).body.instances;
      assert.equal(row.actual_status, 'stopped');
      assert.equal(row.intended_status, 'stopped');
      assert.match(row.status_msg, /rented by another instance/);
      await destroy(a, b);
    });

    it('answers two concurrent creates on the same GPUs with exactly one winner', async () => {
      const [r1, r2] = await Promise.all([create(1002, { onstart: 'sleep 300' }), create(1002, { onstart: 'sleep 300' })]);
      const statuses = [r1.status, r2.status].sort();
      assert.deepEqual(statuses, [200, 409]);
      const loser = r1.status === 409 ? r1 : r2;
      assert.equal(loser.body.success, false);
      assert.match(loser.body.msg, /search offers again/);
      await destroy((r1.status === 200 ? r1 : r2).body.new_contract as number);
    });

    it('does not hold up a create behind a slow stop (SIGTERM ignored, SIGKILL after the grace period)', async () => {
      const slow = (await create(1001, { onstart: "trap '' TERM; echo > ready; while true; do sleep 0.1; done" })).body.new_contract as number;
      await g.waitInstance(slow, running);
      await eventually('trap installed', () =>
        stat(join(g.dataDir, 'instances', String(slow), 'disk', 'ready')).then(
          () => true,
          () => false,
        ),
      );
      await g.api('PUT', `/api/v0/instances/${slow}/`, { state: 'stopped' });
      await g.waitInstance(slow, (r) => r.gantry_status === 'stopping');
      const quick = (await create(1001, { onstart: 'sleep 300' })).body.new_contract as number;
      await g.waitInstance(quick, running);
      assert.equal(
        (await g.api('GET', `/api/v0/instances/${slow}/`)).body.instances.gantry_status,
        'stopping',
        'the new instance ran while the old one was still in its grace period',
      );
      await g.waitInstance(slow, (r) => r.actual_status === 'stopped');
      await destroy(slow, quick);
    });

    it('reports the exit code when the main command ends', async () => {
      const id = (await create(1001, { args: ['bash', '-c', 'echo bye; exit 3'] })).body.new_contract as number;
      const row = await g.waitInstance(id, (r) => r.actual_status === 'exited');
      assert.equal(row.exit_code, 3);
      assert.match(String(row.status_msg), /exited with code 3/);
      assert.equal(row.image_runtype, 'args');
      // Starting it again runs it again.
      assert.equal((await g.api('PUT', `/api/v0/instances/${id}/`, { state: 'running' })).status, 200);
      await g.waitInstance(id, (r) => r.actual_status === 'exited' && r.start_date !== row.start_date);
      await destroy(id);
    });

    it('reboots in place and recycles with a fresh disk on the same GPUs', async () => {
      const id = (await create(1001, { onstart: 'date +%s%N >> boots.txt; sleep 300' })).body.new_contract as number;
      const first = await g.waitInstance(id, running);
      const boots = async (): Promise<number> =>
        (await readFile(join(g.dataDir, 'instances', String(id), 'disk', 'boots.txt'), 'utf8').catch(() => '')).split('\n').filter(Boolean).length;
      await eventually('first boot recorded', async () => (await boots()) === 1);
      assert.equal((await g.api('PUT', `/api/v0/instances/reboot/${id}/`)).status, 200);
      assert.equal(first.gantry_pending_op, null);
      const rebooted = await g.waitInstance(id, (r) => r.actual_status === 'running' && r.start_date !== first.start_date);
      assert.equal(rebooted.gantry_pending_op, null, 'the reboot is done once the workload has restarted');
      await eventually('reboot keeps the disk: two boots on it', async () => (await boots()) === 2);
      const before = (await g.api('GET', `/api/v0/instances/${id}/`)).body.instances;
      assert.equal((await g.api('PUT', `/api/v0/instances/recycle/${id}/`)).status, 200);
      const recycled = await g.waitInstance(id, (r) => r.actual_status === 'running' && r.start_date !== before.start_date);
      await eventually('recycle starts from an empty disk: one boot on it', async () => (await boots()) === 1);
      assert.deepEqual(recycled.gpu_indices, before.gpu_indices);
      await destroy(id);
    });

    it('labels, lists (v0 and paged v1) and changes state in bulk with per-item results', async () => {
      const a = (await create(1001, { onstart: 'sleep 300' })).body.new_contract as number;
      const b = (await create(1001, { onstart: 'sleep 300', label: 'second' })).body.new_contract as number;
      assert.equal((await g.api('PUT', `/api/v0/instances/${a}/`, { label: 'first' })).status, 200);
      // A refused request changes nothing, its label included; the label of one that goes through is set.
      for (const body of [
        { label: 'after', state: 'bogus' },
        { label: 'after', state: 5 },
        { label: 'x'.repeat(257), state: 'running' },
      ])
        assert.equal((await g.api('PUT', `/api/v0/instances/${a}/`, body)).status, 400, JSON.stringify(body).slice(0, 80));
      assert.equal((await g.api('GET', `/api/v0/instances/${a}/`)).body.instances.label, 'first');
      assert.equal((await g.api('PUT', `/api/v0/instances/${b}/`, { label: 'second', state: 'running' })).status, 200);
      const v0 = (await g.api('GET', '/api/v0/instances/')).body;
      assert.equal(v0.instances_found, 2);
      assert.deepEqual(
        v0.instances.map((r: { label: string }) => r.label),
        ['first', 'second'],
      );
      const p1 = (await g.api('GET', '/api/v1/instances/?limit=1')).body;
      assert.equal(p1.success, true);
      assert.equal(p1.instances_found, 1);
      assert.equal(p1.total_instances, 2);
      assert.deepEqual(p1.label_counts, { first: 1, second: 1 });
      const p2 = (await g.api('GET', `/api/v1/instances/?limit=1&after_token=${p1.next_token}`)).body;
      assert.equal(p2.instances[0].id, b);
      assert.equal(p2.next_token, null);
      const filtered = await g.api(
        'GET',
        `/api/v1/instances/?select_filters=${encodeURIComponent('{"label":{"eq":"second"}}')}&select_cols=${encodeURIComponent('["id","label"]')}`,
      );
      assert.deepEqual(filtered.body.instances, [{ id: b, label: 'second' }]);
      const desc = await g.api('GET', `/api/v1/instances/?order_by=${encodeURIComponent('[{"col":"id","dir":"desc"}]')}`);
      assert.deepEqual(
        desc.body.instances.map((r: { id: number }) => r.id),
        [b, a],
      );
      assert.equal((await g.api('GET', `/api/v1/instances/?order_by=${encodeURIComponent('[{"col":"dph_total"}]')}`)).status, 400);
      assert.equal((await g.api('GET', '/api/v1/instances/?after_token=garbage')).status, 400);

      await g.waitInstance(a, running);
      await g.waitInstance(b, running);
      const bulk = await g.api('PUT', '/api/v0/instances/', { state: 'stopped', ids: [a, b, 999999] });
      assert.equal(bulk.status, 200);
      assert.equal(bulk.body.success, false);
      assert.deepEqual(
        bulk.body.results.map((r: { id: number; success: boolean }) => [r.id, r.success]),
        [
          [a, true],
          [b, true],
          [999999, false],
        ],
      );
      await g.waitInstance(a, (r) => r.actual_status === 'stopped');
      await g.waitInstance(b, (r) => r.actual_status === 'stopped');
      const start = await g.api('PUT', '/api/v0/instances/', { state: 'running', ids: [a, b] });
      assert.equal(start.body.success, true);
      assert.equal((await g.api('PUT', '/api/v0/instances/', { state: 'running', ids: [a, a] })).status, 400);
      await destroy(a, b);
    });

    it('refuses what an instance key may not do, and what is not legal', async () => {
      const c = await create(1001, { onstart: 'sleep 300' });
      const id = c.body.new_contract as number;
      const key = c.body.instance_api_key as string;
      assert.equal((await g.api('GET', `/api/v0/instances/${id}/`, undefined, { key })).status, 200);
      assert.equal((await g.api('PUT', `/api/v0/instances/reboot/${id}/`, undefined, { key })).status, 403);
      assert.equal((await g.api('POST', '/api/v0/bundles/', {}, { key })).status, 403);
      assert.equal((await g.api('GET', '/api/v0/users/current/', undefined, { key })).status, 403);
      assert.equal((await g.api('PUT', '/api/v0/asks/1002/', {}, { key })).status, 403);
      assert.equal((await g.api('GET', '/api/v0/instances/1/', undefined, { key })).status, 404);
      await g.waitInstance(id, running);
      // It may stop its instance but not label it: both at once is refused as a whole, the instance keeps running.
      assert.equal((await g.api('PUT', `/api/v0/instances/${id}/`, { state: 'stopped', label: 'x' }, { key })).status, 403);
      assert.equal((await g.api('GET', `/api/v0/instances/${id}/`)).body.instances.intended_status, 'running');
      assert.equal((await g.api('PUT', `/api/v0/instances/${id}/`, { state: 'stopped' }, { key })).status, 200);
      // While stopping, only another stop is allowed.
      const early = await g.api('PUT', `/api/v0/instances/reboot/${id}/`);
      assert.equal(early.status, 409);
      assert.equal(early.body.error, 'invalid_state');
      await g.waitInstance(id, (r) => r.actual_status === 'stopped');
      assert.equal((await g.api('DELETE', `/api/v0/instances/${id}/`, undefined, { key })).status, 200);
      await destroy(id);
      assert.equal((await g.api('GET', `/api/v0/instances/${id}/`, undefined, { key })).status, 401, 'the key dies with its instance');
    });

    async function eventually(what: string, f: () => Promise<boolean>, ms = 15_000): Promise<void> {
      const deadline = Date.now() + ms;
      while (!(await f())) {
        if (Date.now() > deadline) throw new Error(`timed out: ${what}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    }

    async function destroy(...ids: number[]): Promise<void> {
      for (const id of ids) await g.api('DELETE', `/api/v0/instances/${id}/`);
      for (const id of ids) {
        const deadline = Date.now() + 15_000;
        while ((await g.api('GET', `/api/v0/instances/${id}/`)).status !== 404) {
          if (Date.now() > deadline) throw new Error(`instance ${id} was not destroyed`);
          await new Promise((r) => setTimeout(r, 50));
        }
      }
    }
  });
}
