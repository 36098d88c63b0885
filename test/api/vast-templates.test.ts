import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startTestGantry, type TestGantry } from '../helpers/gantry.js';
import { ONE_STORE } from '../helpers/stores.js';
import { startVastClients, vastClientsMissing, type VastClients } from '../helpers/vast-clients.js';

/**
 * Templates as Vast users use them, through the official clients unchanged: create, search, edit and
 * delete a template; create, launch, bulk-create and update instances from one; the compound runtypes
 * of `--ssh --direct` and `--jupyter`; and `--entrypoint X --args ...` in args mode.
 */
const store = ONE_STORE[0]!;
const skip = store.skip || vastClientsMissing();

type Row = Record<string, unknown>;
/** Generous: the test machine may be busy with other suites. */
const WAIT_MS = 120_000;

describe('Vast templates and instance creation through the official clients', { skip }, () => {
  let g: TestGantry;
  let vast: VastClients;
  let userKey: string;

  before(async () => {
    // Enough GPUs for every instance the suite holds at once (the process runtime needs no real ones).
    g = await startTestGantry(store, { gpus: '16x RTX 4090:24GB' });
    vast = startVastClients(g.url, g.adminKey as string);
    const user = await g.api('POST', '/api/v0/users/', { username: 'tpl-user', email: 'tpl@x.test' });
    assert.equal(user.status, 200, user.text);
    userKey = (user.body.api_key ?? user.body.key) as string;
  });
  after(async () => {
    vast.close();
    await g.dispose();
  });

  const instance = async (id: number): Promise<Row> => (await g.api('GET', `/api/v0/instances/${id}/`)).body.instances as Row;
  // Waits until each is gone: an account's live instance on the one test machine marks its offers rented, which launch skips.
  const destroy = async (...ids: number[]): Promise<void> => {
    for (const id of ids) assert.equal((await g.api('DELETE', `/api/v0/instances/${id}/`)).status, 200);
    const deadline = Date.now() + WAIT_MS;
    for (const id of ids) {
      while ((await g.api('GET', `/api/v0/instances/${id}/`)).status !== 404) {
        assert.ok(Date.now() < deadline, `instance ${id} was not destroyed`);
        await new Promise((r) => setTimeout(r, 50));
      }
    }
  };
  const search = async (query: string, key?: string): Promise<Row[]> => {
    const r = await vast.vastai(['search', 'templates', query], key);
    assert.equal(r.code, 0, r.out);
    return JSON.parse(r.out) as Row[];
  };
  const newContract = (out: string): number => {
    const m = /'new_contract': (\d+)/.exec(out) ?? /"new_contract": (\d+)/.exec(out);
    assert.ok(m, out);
    return Number(m[1]);
  };

  let hash = '';
  let templateId = 0;
  let publicId = 0;

  it('create template (legacy) and search templates (vastai): private to the account, public to all', async () => {
    const made = await vast.legacy([
      'create',
      'template',
      '--name',
      'tpl-one',
      '--image',
      'local/shell',
      '--env',
      '-e FOO=from-template -e KEEP=1 -p 8081:8081',
      '--onstart-cmd',
      'echo template-onstart; sleep 300',
      '--ssh',
      '--direct',
      '--disk_space',
      '2',
      '--search_params',
      'num_gpus=1',
    ]);
    const m = /'hash_id': '([0-9a-f]{32})'/.exec(made.out);
    assert.ok(m, made.out);
    hash = m[1]!;
    const rows = await search('name=tpl-one');
    assert.equal(rows.length, 1, JSON.stringify(rows));
    const row = rows[0]!;
    templateId = row.id as number;
    assert.equal(row.hash_id, hash);
    assert.equal(row.image, 'local/shell');
    assert.equal(row.runtype, 'ssh');
    assert.equal(row.ssh_direct, true);
    assert.equal(row.private, true);
    assert.equal(String(((row.extra_filters as Row).num_gpus as Row).eq), '1');
    // Another account sees neither the private template nor can use it; a public one it sees.
    assert.equal((await search('name=tpl-one', userKey)).length, 0);
    await vast.vastai(['create', 'template', '--name', 'tpl-public', '--image', 'local/shell', '--public', '--onstart-cmd', 'sleep 300']);
    const pub = await search('name=tpl-public', userKey);
    assert.equal(pub.length, 1, JSON.stringify(pub));
    assert.equal(pub[0]!.private, false);
    publicId = pub[0]!.id as number;
    const refused = await vast.legacy(['create', 'instance', '1001', '--template_hash', hash, '--disk', '1'], userKey);
    assert.match(refused.out, /404|TEMPLATE_NOT_FOUND|No template/i, refused.out);
  });

  it('create instance --template_hash (both CLIs): the template gives the defaults, explicit flags win, env merges by name', async () => {
    const a = newContract((await vast.legacy(['create', 'instance', '1001', '--template_hash', hash, '--disk', '1'])).out);
    const ia = await instance(a);
    assert.equal(ia.image_uuid, 'local/shell');
    assert.equal(ia.image_runtype, 'ssh_direc ssh_proxy');
    assert.equal(ia.onstart, 'echo template-onstart; sleep 300');
    // Vast's rows show published ports as `-p` entries of extra_env.
    assert.deepEqual(Object.fromEntries(ia.extra_env as [string, string][]), { FOO: 'from-template', KEEP: '1', '-p 8081:8081': '1' });
    // The row names the template it was made from, as Vast's rows do; one made without a template names none.
    assert.deepEqual([ia.template_id, ia.template_hash_id, ia.template_name], [templateId, hash, 'tpl-one']);
    const b = newContract(
      (
        await vast.vastai([
          'create',
          'instance',
          '1001',
          '--template_hash',
          hash,
          '--disk',
          '1',
          '--image',
          'local/other',
          '--env',
          '-e FOO=explicit -e NEW=2',
          '--onstart-cmd',
          'sleep 301',
        ])
      ).out,
    );
    const ib = await instance(b);
    assert.equal(ib.image_uuid, 'local/other');
    assert.equal(ib.onstart, 'sleep 301');
    assert.deepEqual(Object.fromEntries(ib.extra_env as [string, string][]), { FOO: 'explicit', KEEP: '1', NEW: '2', '-p 8081:8081': '1' });
    const raw = JSON.parse((await vast.vastai(['show', 'instances', '--raw'])).out) as Row[];
    assert.deepEqual(
      raw.filter((r) => r.id === b).map((r) => [r.template_id, r.template_hash_id, r.template_name]),
      [[templateId, hash, 'tpl-one']],
    );
    await destroy(a, b);
  });

  it('compound runtypes (--ssh --direct, --jupyter, --jupyter --direct) are accepted and run like ssh', async () => {
    const ids = [
      newContract((await vast.legacy(['create', 'instance', '1001', '--image', 'x', '--disk', '1', '--ssh', '--direct', '--onstart-cmd', 'sleep 300'])).out),
      newContract((await vast.vastai(['create', 'instance', '1001', '--image', 'x', '--disk', '1', '--jupyter', '--onstart-cmd', 'sleep 300'])).out),
      newContract(
        (await vast.legacy(['create', 'instance', '1001', '--image', 'x', '--disk', '1', '--jupyter', '--direct', '--onstart-cmd', 'sleep 300'])).out,
      ),
    ];
    const rows = await Promise.all(ids.map(instance));
    assert.deepEqual(
      rows.map((r) => r.image_runtype),
      ['ssh_direc ssh_proxy', 'jupyter_proxy ssh_proxy', 'jupyter_direc ssh_direc ssh_proxy'],
    );
    assert.deepEqual(
      rows.map((r) => [r.template_id, r.template_hash_id, r.template_name, r.volume_info]),
      rows.map(() => [null, null, null, []]),
    );
    // Jupyter modes start no notebook server: the instance runs its onstart and stays up, as with ssh.
    await g.waitInstance(ids[2]!, (x) => x.actual_status === 'running', WAIT_MS);
    await destroy(...ids);
  });

  it('--entrypoint bash --args -c ... runs bash -c with the script (args mode), in both CLIs', async () => {
    for (const cli of [(a: string[]) => vast.legacy(a), (a: string[]) => vast.vastai(a)]) {
      const id = newContract((await cli(['create', 'instance', '1001', '--image', 'x', '--disk', '1', '--entrypoint', 'bash', '--args', '-c', 'exit 7'])).out);
      const done = await g.waitInstance(id, (x) => x.actual_status === 'exited', WAIT_MS);
      assert.equal(done.exit_code, 7, JSON.stringify(done));
      assert.equal(done.entrypoint, 'bash');
      assert.deepEqual(done.image_args, ['-c', 'exit 7']);
      await destroy(id);
    }
  });

  it('update template (legacy) changes the hash and keeps the id; update instance (vastai) recreates from it', async () => {
    const id = newContract((await vast.vastai(['create', 'instance', '1001', '--template_hash', hash, '--disk', '1'])).out);
    const upd = await vast.legacy(['update', 'template', hash, '--name', 'tpl-one', '--image', 'local/shell', '--onstart-cmd', 'echo v2; sleep 302', '--ssh']);
    const m = /"hash_id": "([0-9a-f]{32})"/.exec(upd.out);
    assert.ok(m, upd.out);
    const next = m[1]!;
    assert.notEqual(next, hash);
    const rows = await search('name=tpl-one');
    assert.equal(rows.length, 1);
    assert.equal(rows[0]!.id, templateId);
    assert.equal(rows[0]!.onstart, 'echo v2; sleep 302');
    // The env was not given: the edit keeps it.
    assert.equal(rows[0]!.env, '-e FOO=from-template -e KEEP=1 -p 8081:8081');
    // A workergroup takes the template as its source (the legacy CLI sends template_id: null beside it).
    const ep = await g.api('POST', '/api/v0/endptjobs/', { endpoint_name: 'tpl-ep', cold_workers: 0 });
    assert.equal(ep.status, 200, ep.text);
    const wgOut = await vast.legacy(['create', 'workergroup', '--template_hash', next, '--endpoint_name', 'tpl-ep', '--test_workers', '0']);
    const wg = ((await g.api('GET', '/api/v0/workergroups/')).body.results as Row[]).find((w) => w.endpoint_name === 'tpl-ep');
    assert.ok(wg, wgOut.out);
    assert.equal(wg.image, 'local/shell');
    assert.equal(wg.onstart, 'echo v2; sleep 302');
    assert.deepEqual(wg.env, { FOO: 'from-template', KEEP: '1' });
    assert.deepEqual(wg.ports, ['8081/tcp']);
    // update workergroup --template_hash (vastai): the workergroup's source becomes that template, its offer
    // filters join the CLI's default search; workers made from now on use it (`update workers` replaces the others).
    await vast.vastai([
      'create',
      'template',
      '--name',
      'tpl-two',
      '--image',
      'local/two',
      '--env',
      '-e TWO=2',
      '--onstart-cmd',
      'echo two',
      '--search_params',
      'gpu_ram>=20',
    ]);
    const two = (await search('name=tpl-two'))[0]!;
    const wgUpd = await vast.vastai(['update', 'workergroup', String(wg.id), '--template_hash', two.hash_id as string]);
    const wg2 = ((await g.api('GET', '/api/v0/workergroups/')).body.results as Row[]).find((w) => w.id === wg.id);
    assert.ok(wg2, wgUpd.out);
    assert.deepEqual([wg2.image, wg2.onstart, wg2.env, wg2.ports], ['local/two', 'echo two', { TWO: '2' }, ['8000/tcp']], wgUpd.out);
    assert.match(wg2.search_params as string, /verified=true.*gpu_ram>=20/i);
    // And back by id (legacy); a template that does not exist is refused and the workergroup stays as it was.
    await vast.legacy(['update', 'workergroup', String(wg.id), '--template_id', String(templateId)]);
    const wg3 = ((await g.api('GET', '/api/v0/workergroups/')).body.results as Row[]).find((w) => w.id === wg.id);
    assert.deepEqual([wg3?.image, wg3?.onstart, wg3?.ports], ['local/shell', 'echo v2; sleep 302', ['8081/tcp']]);
    const refusedWg = await vast.legacy(['update', 'workergroup', String(wg.id), '--template_hash', 'f'.repeat(32)]);
    assert.match(refusedWg.out, /404|No template/i, refusedWg.out);
    assert.equal(((await g.api('GET', '/api/v0/workergroups/')).body.results as Row[]).find((w) => w.id === wg.id)?.image, 'local/shell');
    assert.equal((await g.api('DELETE', `/api/v0/endptjobs/${ep.body.id as number}/`)).status, 200);
    const stale = await vast.legacy(['create', 'instance', '1001', '--template_hash', hash, '--disk', '1']);
    assert.match(stale.out, /404|No template/i, stale.out);

    const r = await vast.vastai(['update', 'instance', String(id), '--template_hash_id', next]);
    assert.match(r.out, new RegExp(`Instance ${id} updated successfully`), r.out);
    const after = await g.waitInstance(id, (x) => x.onstart === 'echo v2; sleep 302' && x.actual_status === 'running', WAIT_MS);
    assert.equal(after.image_runtype, 'ssh_proxy');
    // The row names the template as it was updated from (same id, the edited hash).
    assert.deepEqual([after.template_id, after.template_hash_id, after.template_name], [templateId, next, 'tpl-one']);
    const byId = await vast.legacy(['update', 'instance', String(id), '--template_id', String(templateId), '--onstart', 'sleep 303']);
    assert.match(byId.out, new RegExp(`Instance ${id} updated successfully`), byId.out);
    assert.equal((await instance(id)).onstart, 'sleep 303');
    hash = next;
    await destroy(id);
  });

  it('launch instance (legacy, SDK) searches and creates in one call; create instances (vastai) creates one per offer named', async () => {
    const launched = await vast.legacy(['launch', 'instance', '-g', 'RTX_4090', '-n', '1', '-i', 'local/shell', '-d', '1', '--onstart-cmd', 'sleep 300']);
    const id = newContract(launched.out);
    assert.equal((await instance(id)).num_gpus, 1);
    // Launch skips machines the account rents on already (Vast's rented=false), as search offers does.
    await destroy(id);
    const withTemplate = await vast.vastai(['launch', 'instance', '-g', 'RTX_4090', '-n', '2', '-i', 'ignored', '-d', '1', '--template_hash', hash]);
    const tid = newContract(withTemplate.out);
    const it = await instance(tid);
    assert.equal(it.num_gpus, 2);
    assert.equal(it.onstart, 'echo v2; sleep 302');
    await destroy(tid);
    const none = await vast.legacy(['launch', 'instance', '-g', 'RTX_4090', '-n', '14', '-i', 'x', '-d', '1']);
    assert.match(none.out, /404|No offer/i, none.out);

    // An offer named twice is two creates: it stays offered while its machine has free GPUs.
    const bulk = await vast.vastai(['create', 'instances', '1001', '1002', '1001', '--image', 'x', '--disk', '1', '--onstart-cmd', 'sleep 300']);
    const made = [...bulk.out.matchAll(/'new_contract': (\d+)/g)].map((x) => Number(x[1]));
    assert.equal(new Set(made).size, 3, bulk.out);
    assert.deepEqual((await Promise.all(made.map(instance))).map((x) => x.num_gpus).sort(), [1, 1, 2]);
    // The SDK's launch_instance sends the same default filters (rented=false among them): an account renting
    // nothing on the machine launches while another account's instances run there.
    const other = await g.api('POST', '/api/v0/users/', { username: 'tpl-launcher', email: 'launcher@x.test', credit: 5 });
    assert.equal(other.status, 200, other.text);
    const sdk = await vast.sdk(
      `from vastai import VastAI\nprint(json.dumps(VastAI(api_key=${JSON.stringify(other.body.api_key)}, server_url=URL).launch_instance("RTX_4090", "1", "x", disk=1, onstart_cmd="sleep 300")))`,
    );
    const sid = newContract(sdk.out);
    assert.equal((await g.api('GET', `/api/v0/instances/${sid}/`, undefined, { key: other.body.api_key as string })).body.instances.num_gpus, 1);
    assert.equal((await g.api('DELETE', `/api/v0/instances/${sid}/`, undefined, { key: other.body.api_key as string })).status, 200);
    await destroy(...made);
  });

  it('delete template by hash (legacy) and by id (vastai): gone from search and from creates', async () => {
    const del = await vast.legacy(['delete', 'template', '--hash-id', hash]);
    assert.match(del.out, /deleted/i, del.out);
    assert.equal((await search('name=tpl-one')).length, 0);
    const gone = await vast.legacy(['create', 'instance', '1001', '--template_hash', hash, '--disk', '1']);
    assert.match(gone.out, /404|No template/i, gone.out);
    // Another account's public template is not one it may delete; its owner deletes it by id.
    const theirs = await vast.vastai(['delete', 'template', '--template-id', String(publicId)], userKey);
    assert.match(theirs.out, /404|No own template/i, theirs.out);
    const byId = await vast.vastai(['delete', 'template', '--template-id', String(publicId)]);
    assert.match(byId.out, /deleted/i, byId.out);
    assert.equal((await search('name=tpl-public', userKey)).length, 0);
  });
});
