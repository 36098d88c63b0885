import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startTestGantry, type TestGantry } from '../helpers/gantry.js';
import { SERVERLESS_FAST, until, WORKER_ONSTART, workersOf } from '../helpers/serverless.js';
import { ONE_STORE } from '../helpers/stores.js';
import { startVastClients, vastClientsMissing, type CliResult, type VastClients } from '../helpers/vast-clients.js';

/**
 * The serverless verbs of the official Vast clients, unchanged: both CLIs, the `VastAI` SDK and the
 * serverless client (`vastai.serverless.client.Serverless`), against one Gantry with a real worker
 * (test/fixtures/serverless-worker.ts, Gantry's startWorker). Each verb is judged by its output.
 */
const store = ONE_STORE[0];
const skip = store?.skip || vastClientsMissing();

const succeeded = (r: CliResult): void => assert.match(r.out, /'success': True/, r.out);
/** The JSON a Python snippet printed last. */
function lastJson(r: CliResult): any {
  try {
    return JSON.parse(r.out.trim().split('\n').pop() as string);
  } catch {
    assert.fail(`no JSON in the output: ${r.out}`);
  }
}

describe('the serverless verbs of the official Vast clients', { skip }, () => {
  let g: TestGantry;
  let vast: VastClients;
  const api = async (method: string, path: string, body?: unknown): Promise<any> => {
    const r = await g.api(method, path, body);
    assert.equal(r.status, 200, `${method} ${path}: ${r.text}`);
    return r.body;
  };
  const endpointRow = async (name: string): Promise<Record<string, any>> =>
    ((await api('GET', '/api/v0/endptjobs/')).results as Record<string, any>[]).find((e) => e.endpoint_name === name) as Record<string, any>;

  before(async () => {
    g = await startTestGantry(store!, { gpus: '4x RTX 4090:24GB', settings: SERVERLESS_FAST });
    vast = startVastClients(g.url, g.adminKey as string, { timeoutS: 120 });
  });
  after(async () => {
    vast.close();
    await g.dispose();
  });

  it('endpoints: create with one bound given, show, update one parameter, delete (both CLIs and the SDK)', async () => {
    // The unspecified min_workers (default 5) yields to max_workers 2; only a contradiction the user wrote is refused.
    succeeded(await vast.legacy(['create', 'endpoint', '--endpoint_name', 'ep-legacy', '--max_workers', '2', '--min_load', '0', '--cold_workers', '0']));
    succeeded(await vast.vastai(['create', 'endpoint', '--endpoint_name', 'ep-new', '--max_workers', '2', '--min_load', '0', '--cold_workers', '0']));
    const sdkCreate = await vast.sdk(
      `from vastai import VastAI\nprint(VastAI(api_key=KEY, server_url=URL).create_endpoint(endpoint_name="ep-sdk", max_workers=2, min_load=0, cold_workers=0))`,
    );
    succeeded(sdkCreate);
    for (const name of ['ep-legacy', 'ep-new', 'ep-sdk']) {
      const row = await endpointRow(name);
      assert.deepEqual([row.min_workers, row.max_workers], [2, 2], name);
    }
    const contradiction = await g.api('POST', '/api/v0/endptjobs/', { endpoint_name: 'bad', min_workers: 3, max_workers: 1 });
    assert.equal(contradiction.status, 400, contradiction.text);
    assert.match(contradiction.body.msg, /min_workers/);

    assert.match((await vast.legacy(['show', 'endpoints'])).out, /"endpoint_name": "ep-legacy"/);
    assert.match((await vast.vastai(['show', 'endpoints'])).out, /"endpoint_name": "ep-new"/);
    assert.match(
      (await vast.sdk(`from vastai import VastAI\nprint([e["endpoint_name"] for e in VastAI(api_key=KEY, server_url=URL).show_endpoints()])`)).out,
      /ep-sdk/,
    );

    const legacyId = String((await endpointRow('ep-legacy')).id);
    const newId = String((await endpointRow('ep-new')).id);
    const sdkId = String((await endpointRow('ep-sdk')).id);
    // One parameter each: the bound it leaves follows (min_workers 2 → 1 with max_workers 1).
    succeeded(await vast.legacy(['update', 'endpoint', legacyId, '--max_workers', '1']));
    succeeded(await vast.vastai(['update', 'endpoint', newId, '--min_load', '3']));
    succeeded(await vast.sdk(`from vastai import VastAI\nprint(VastAI(api_key=KEY, server_url=URL).update_endpoint(${sdkId}, max_workers=5))`));
    assert.deepEqual([(await endpointRow('ep-legacy')).min_workers, (await endpointRow('ep-legacy')).max_workers], [1, 1]);
    assert.equal((await endpointRow('ep-new')).min_load, 3);
    assert.equal((await endpointRow('ep-sdk')).max_workers, 5);

    // Logs of an endpoint without workers: the CLIs print the level as it comes, so it says so rather than nothing.
    assert.match((await vast.vastai(['get', 'endpt-logs', newId])).out, /No workers yet/);
    succeeded(await vast.legacy(['delete', 'endpoint', legacyId]));
    succeeded(await vast.vastai(['delete', 'endpoint', newId]));
    succeeded(await vast.sdk(`from vastai import VastAI\nprint(VastAI(api_key=KEY, server_url=URL).delete_endpoint(${sdkId}))`));
    for (const name of ['ep-legacy', 'ep-new', 'ep-sdk']) await until(`${name} deleted`, async () => (await endpointRow(name)) === undefined);
  });

  it('deployments: show, show one, versions, stop, start, delete by id and by name and tag (both CLIs and the SDK)', async () => {
    const create = async (name: string, tag: string): Promise<number> =>
      (
        await api('POST', '/api/v0/deployments/', {
          name,
          tag,
          image: 'local/worker',
          search_params: 'num_gpus=1',
          min_load: 0,
          cold_workers: 0,
          min_workers: 0,
          max_workers: 1,
        })
      ).deployment.id as number;
    const a = await create('dep-a', 'prod');
    // A deployment's name names its endpoint in Gantry, so one name has one deployment (of one tag).
    const b = await create('dep-b', 'dev');
    const c = await create('dep-c', 'prod');
    const d = await create('dep-d', 'prod');

    assert.match((await vast.legacy(['show', 'deployments'])).out, /"name": "dep-a"/);
    const table = (await vast.vastai(['show', 'deployments'])).out;
    for (const name of ['dep-a', 'dep-b', 'dep-c']) assert.match(table, new RegExp(name));
    assert.match((await vast.legacy(['show', 'deployment', String(a)])).out, /"worker_count": 0/);
    const shown = await vast.vastai(['show', 'deployment', String(a), '--raw']);
    assert.equal((JSON.parse(shown.out) as { name: string }).name, 'dep-a', shown.out);
    const versions = await vast.vastai(['show', 'deployment-versions', String(a)]);
    const listed = JSON.parse(versions.out) as { status: string; image: string }[];
    assert.deepEqual(
      listed.map((v) => [v.status, v.image]),
      [['current', 'local/worker']],
      versions.out,
    );
    assert.match((await vast.legacy(['show', 'deployment-versions', String(a)])).out, /"status": "current"/);

    assert.match((await vast.vastai(['stop', 'deployment', String(a)])).out, new RegExp(`Deployment ${a} stopped`));
    assert.equal((await api('GET', `/api/v0/deployment/${a}/`)).deployment.endpoint_state, 'stopped');
    assert.match((await vast.vastai(['start', 'deployment', String(a)])).out, new RegExp(`Deployment ${a} started`));
    assert.equal((await api('GET', `/api/v0/deployment/${a}/`)).deployment.endpoint_state, 'active');

    const sdk = await vast.sdk(
      `from vastai import VastAI\nv = VastAI(api_key=KEY, server_url=URL)\nprint(json.dumps([sorted(d["name"] for d in v.show_deployments()), v.show_deployment(${c})["name"], len(v.show_deployment_versions(${c})), v.delete_deployment(${c})["success"]]))`,
    );
    assert.deepEqual(lastJson(sdk), [['dep-a', 'dep-b', 'dep-c', 'dep-d'], 'dep-c', 1, true], sdk.out);

    assert.match((await vast.legacy(['delete', 'deployment', String(a)])).out, /Deployment deleted successfully/);
    const gone = async (id: number): Promise<boolean> => (await g.api('GET', `/api/v0/deployment/${id}/`)).status === 404;
    assert.match((await vast.vastai(['delete', 'deployment', '--name', 'dep-b', '--tag', 'prod'])).out, /No deployment named 'dep-b' with tag 'prod'/);
    assert.equal(await gone(b), false, 'another tag is not deleted');
    assert.match((await vast.vastai(['delete', 'deployment', '--name', 'dep-b', '--tag', 'dev'])).out, /Deleted 1 deployment\(s\)/);
    assert.match((await vast.legacy(['delete', 'deployment', '--name', 'dep-d'])).out, /Deleted 1 deployment\(s\)/);
    assert.match((await vast.legacy(['delete', 'deployment', '--name', 'dep-c'])).out, /No deployment named 'dep-c'/);
    for (const id of [a, b, c, d]) await until(`deployment ${id} deleted`, () => gone(id));
  });

  it('workergroups and workers: create with template_hash null, show, update, logs, workers, a session, update workers, delete', async () => {
    succeeded(
      await vast.legacy(['create', 'endpoint', '--endpoint_name', 'srv', '--max_workers', '1', '--min_load', '1', '--cold_workers', '0', '--target_util', '1']),
    );
    const ep = await endpointRow('srv');
    const launch = `--image local/worker --env '-e WORKER_PERF=2' --onstart-cmd '${WORKER_ONSTART}'`;
    // A template named but not stored: the clear refusal where templates will plug in.
    assert.match((await vast.legacy(['create', 'workergroup', '--endpoint_id', String(ep.id), '--template_hash', 'abc'])).out, /No template with hash abc/);
    // Both CLIs send "template_hash": null: that names no template.
    const created = await vast.legacy([
      'create',
      'workergroup',
      '--endpoint_id',
      String(ep.id),
      '--test_workers',
      '1',
      '--search_params',
      'num_gpus=1',
      '--launch_args',
      launch,
    ]);
    succeeded(created);
    const wgId = Number(/'id': (\d+)/.exec(created.out)?.[1]);
    assert.match((await vast.vastai(['show', 'workergroups'])).out, new RegExp(`"id": ${wgId}`));
    assert.match((await vast.legacy(['show', 'workergroups'])).out, /"image": "local\/worker"/);
    // -n: without it the CLIs add rented=False, which excludes the one machine where this account already rents (Vast's meaning).
    succeeded(await vast.vastai(['update', 'workergroup', String(wgId), '--test_workers', '1', '-n', '--search_params', 'num_gpus=1']));
    succeeded(await vast.legacy(['update', 'workergroup', String(wgId), '--gpu_ram', '8', '-n', '--search_params', 'num_gpus=1']));

    const first = await until(
      'a ready worker',
      async () => {
        const ws = await workersOf(g, ep.id);
        const ready = ws.find((w) => w.status === 'Ready');
        if (ready === undefined) throw new Error(`workers: ${JSON.stringify(ws)}; endpoint: ${JSON.stringify(await endpointRow('srv'))}`);
        return ready;
      },
      120_000,
    );
    const workers = await vast.vastai(['get', 'endpt-workers', String(ep.id)]);
    assert.match(workers.out, new RegExp(`id=${first.id} status=Ready gpu_name=RTX 4090 measured_perf=2`), workers.out);
    for (const cli of [(a: string[]) => vast.legacy(a), (a: string[]) => vast.vastai(a)]) {
      // What the worker printed: startWorker's ready line.
      assert.match((await cli(['get', 'endpt-logs', String(ep.id)])).out, new RegExp(`--- worker ${first.id} ---\\nworker ${first.id}: ready on port \\d+`));
      assert.match((await cli(['get', 'endpt-logs', String(ep.id), '--level', '0'])).out, new RegExp(`worker ${first.id}: ready`));
      assert.match((await cli(['get', 'wrkgrp-logs', String(wgId), '--level', '3'])).out, /--- worker \d+ ---/);
    }

    const sdkReads = await vast.sdk(
      `from vastai import VastAI\nv = VastAI(api_key=KEY, server_url=URL)\n` +
        `print(json.dumps([[w["id"] for w in v.show_workergroups()], [w["gpu_name"] for w in v.get_endpoint_workers(${ep.id})], ` +
        `"--- worker" in v.get_endpt_logs(${ep.id})["info1"], "--- worker" in v.get_wrkgrp_logs(${wgId})["debug"], v.update_workergroup(${wgId}, test_workers=1, no_default=True, search_params="num_gpus=1")["success"]]))`,
    );
    const reads = lastJson(sdkReads) as [number[], ...unknown[]];
    assert.ok(reads[0].includes(wgId), sdkReads.out);
    assert.deepEqual(reads.slice(1), [['RTX 4090'], true, true, true], sdkReads.out);

    // The serverless client: workers (its key in the body only), a request, and a session on the worker.
    const session = await vast.sdk(`
import asyncio
from vastai.serverless.client import Serverless
async def main():
    c = Serverless(api_key=KEY, autoscaler_url=URL, webserver_url=URL)
    c._ssl_context = ssl.create_default_context()
    async with c:
        ep = await c.get_endpoint(name="srv")
        ws = await ep.get_workers()
        r = await ep.request("/work", {"n": 1})
        s = await ep.session(lifetime=30)
        r2 = await s.request("/in-session", {"n": 2})
        alive = await s.is_open()
        again = await ep.get_session(s.session_id, s.auth_data)
        await s.close()
        try:
            await s.is_open()
            ended = False
        except Exception as e:  # the client raises for a session the worker no longer has, as with Vast's workers
            ended = "session does not exist" in str(e)
        print(json.dumps({"workers": [[w.id, w.status, w.measured_perf] for w in ws], "r": r["response"], "r2": r2["response"], "alive": alive, "again": again.session_id == s.session_id, "ended": ended}))
asyncio.run(main())
`);
    const out = lastJson(session) as Record<string, any>;
    assert.deepEqual(out.workers, [[first.id, 'Ready', 2]], session.out);
    assert.equal(out.r.echo, '{"n":1}');
    assert.match(out.r2.path, /^\/in-session/);
    assert.equal(out.r2.worker, first.id);
    assert.deepEqual([out.alive, out.again, out.ended], [true, true, true], session.out);

    // update workers: the worker is replaced by a new one (a second worker serves first), then the update ends.
    assert.match((await vast.legacy(['update', 'workers', String(wgId)])).out, new RegExp(`Update started for workergroup ${wgId} \\(1 workers\\)`));
    await until(
      'the worker replaced',
      async () => {
        const now = await workersOf(g, ep.id);
        if (now.length === 1 && now[0]?.id !== first.id && now[0]?.status === 'Ready') return true;
        throw new Error(`workers: ${JSON.stringify(now)}; endpoint: ${JSON.stringify(await endpointRow('srv'))}`);
      },
      120_000,
    );
    assert.match((await vast.vastai(['update', 'workers', String(wgId), '--cancel'])).out, new RegExp(`Update cancelled for workergroup ${wgId}`));

    succeeded(await vast.vastai(['delete', 'workergroup', String(wgId)]));
    assert.equal(((await api('GET', '/api/v0/workergroups/')).results as { endpoint_id: number }[]).filter((w) => w.endpoint_id === ep.id).length, 0);
    succeeded(await vast.legacy(['delete', 'endpoint', String(ep.id)]));
  });
});
