import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ed25519Pair } from '../../src/agent/ssh-keygen.js';
import { startTestGantry, type TestGantry } from '../helpers/gantry.js';
import { until } from '../helpers/serverless.js';
import { TEST_STORES } from '../helpers/stores.js';

/** A deployment of one waiting worker, as `createDeployment` takes it. */
const DEPLOYMENT = {
  name: 'dep',
  tag: null,
  params: {},
  template: { image: 'local/worker', env: {}, onstart: 'sleep 60', args: null, diskGb: null },
  placement: null,
  launchArgs: null,
  gpuRamGb: null,
  testWorkers: null,
};

const ts = TEST_STORES.find((s) => s.name === 'sqlite');

/**
 * Subaccounts and teams were unbounded, nested at any depth, and each came with limits of its own (keys, host
 * tokens, env vars, streams): a bound on the tree (maxSubaccountsPerAccount) bounds all of those.
 */
describe('bounds on what one account holds', { skip: ts?.skip ?? false }, () => {
  let g: TestGantry;
  before(async () => {
    g = await startTestGantry(ts!, { settings: { maxSubaccountsPerAccount: 2, maxSshKeysPerAccount: 2, maxEndpointsPerAccount: 2 } });
  });
  after(() => g?.dispose());

  it('at most maxSubaccountsPerAccount at any depth, teams included: one more is 400 max_subaccounts; an admin is not bound', async () => {
    const top = (await g.api('POST', '/api/v0/users/', { username: 'owner', email: 'owner@example.com' })).body as { id: number; api_key: string };
    const as = (key: string) => (method: string, path: string, body?: unknown) => g.api(method, path, body, { key });
    const sub = await as(top.api_key)('POST', '/api/v0/users/', { username: 'owner-ci', email: 'ci@example.com', parent_id: 'me' });
    assert.equal(sub.status, 200, sub.text);
    // A subaccount's own subaccount counts toward the top-level account's bound.
    const nested = await as(sub.body.api_key as string)('POST', '/api/v0/users/', { username: 'owner-ci-2', email: 'ci2@example.com', parent_id: 'me' });
    assert.equal(nested.status, 200, nested.text);
    const team = await as(top.api_key)('POST', '/api/v0/team/', { team_name: 'owner-lab' });
    assert.equal(team.status, 400, team.text);
    assert.equal(team.body.error, 'max_subaccounts');
    const third = await as(top.api_key)('POST', '/api/v0/users/', { username: 'owner-3', email: 'o3@example.com', parent_id: 'me' });
    assert.deepEqual([third.status, third.body.error], [400, 'max_subaccounts']);
    assert.match(third.body.msg as string, /at most 2 subaccounts and teams/);
    for (let i = 0; i < 3; i++)
      assert.equal((await g.api('POST', '/api/v0/users/', { username: `admins-${i}`, email: `a${i}@example.com`, parent_id: 'me' })).status, 200);
  });

  it('at most maxSshKeysPerAccount SSH keys: one more is 400 max_ssh_keys', async () => {
    const u = (await g.api('POST', '/api/v0/users/', { username: 'keyholder', email: 'keys@example.com' })).body as { api_key: string };
    const as = (method: string, path: string, body?: unknown) => g.api(method, path, body, { key: u.api_key });
    const [a, b, c] = [ed25519Pair(), ed25519Pair(), ed25519Pair()];
    for (const k of [a, b]) assert.equal((await as('POST', '/api/v0/ssh/', { ssh_key: k.public })).status, 200);
    const third = await as('POST', '/api/v0/ssh/', { ssh_key: c.public });
    assert.deepEqual([third.status, third.body.error], [400, 'max_ssh_keys'], third.text);
    assert.equal((await as('GET', '/api/v0/ssh/')).body.length, 2);
  });

  it('at most maxEndpointsPerAccount endpoints, deployments of any API included: one more is 400 max_endpoints; a deleted one frees its place once gone', async () => {
    const u = (await g.api('POST', '/api/v0/users/', { username: 'endpoints', email: 'ep@example.com' })).body as { api_key: string };
    const as = (method: string, path: string, body?: unknown) => g.api(method, path, body, { key: u.api_key });
    const ids: number[] = [];
    for (const name of ['one', 'two']) {
      const r = await as('POST', '/api/v0/endptjobs/', { endpoint_name: name });
      assert.equal(r.status, 200, r.text);
      ids.push(r.body.id as number);
    }
    const third = await as('POST', '/api/v0/endptjobs/', { endpoint_name: 'three' });
    assert.deepEqual([third.status, third.body.error], [400, 'max_endpoints'], third.text);
    assert.match(third.body.msg as string, /at most 2 endpoints and deployments/);
    const p = await g.control.authenticate(u.api_key);
    await assert.rejects(g.control.serverless.createDeployment(p, { ...DEPLOYMENT, testWorkers: null }), { code: 'ENDPOINT_LIMIT' });
    assert.equal((await as('DELETE', `/api/v0/endptjobs/${ids[0]}/`)).status, 200);
    // It counts until its deletion is done (its workers destroyed), then frees its place.
    await until('the deleted endpoint gone', async () => (await g.control.ctx.store.getEndpoint(ids[0] as number))?.status === 'deleted', 30_000);
    const again = await as('POST', '/api/v0/endptjobs/', { endpoint_name: 'three' });
    assert.equal(again.status, 200, again.text);
    assert.equal((await g.api('POST', '/api/v0/endptjobs/', { endpoint_name: 'admins' })).status, 200, 'an admin is not bound');
    assert.equal((await g.api('POST', '/api/v0/endptjobs/', { endpoint_name: 'admins-2' })).status, 200);
  });
});

/**
 * Workergroups and templates were unbounded: 150 workergroups on one endpoint (each planned and recruited for in every
 * pass of its endpoint's serverless loop) and 150 templates were all accepted.
 */
describe('bounds on the workergroups and templates one account holds', { skip: ts?.skip ?? false }, () => {
  let g: TestGantry;
  before(async () => {
    g = await startTestGantry(ts!, { settings: { maxWorkergroupsPerEndpoint: 2, maxWorkergroupsPerAccount: 3, maxTemplatesPerAccount: 2 } });
  });
  after(() => g?.dispose());

  const user = async (name: string) => {
    const u = (await g.api('POST', '/api/v0/users/', { username: name, email: `${name}@example.com` })).body as { api_key: string };
    return { key: u.api_key, as: (method: string, path: string, body?: unknown) => g.api(method, path, body, { key: u.api_key }) };
  };
  const worker = { image: 'local/worker', onstart: 'sleep 60', test_workers: 0 };

  it('at most maxWorkergroupsPerEndpoint on one endpoint and maxWorkergroupsPerAccount in all: one more is 400 max_workergroups; a deleted one frees its place', async () => {
    const { key, as } = await user('groups');
    const ep = async (name: string) => {
      const r = await as('POST', '/api/v0/endptjobs/', { endpoint_name: name });
      assert.equal(r.status, 200, r.text);
      return r.body.id as number;
    };
    const [a, b] = [await ep('a'), await ep('b')];
    const groups: number[] = [];
    for (const path of ['/api/v0/workergroups/', '/api/v0/autojobs/']) {
      const r = await as('POST', path, { endpoint_id: a, ...worker });
      assert.equal(r.status, 200, r.text);
      groups.push(r.body.id as number);
    }
    const third = await as('POST', '/api/v0/workergroups/', { endpoint_name: 'a', ...worker });
    assert.deepEqual([third.status, third.body.success, third.body.error], [400, false, 'max_workergroups'], third.text);
    assert.match(third.body.msg as string, /An endpoint holds at most 2 workergroups/);
    // One made from a template is bounded as well.
    const tpl = await as('POST', '/api/v0/template/', { name: 't', image: 'local/worker', onstart: 'sleep 60' });
    assert.equal(tpl.status, 200, tpl.text);
    const fromTemplate = await as('POST', '/api/v0/autojobs/', { endpoint_id: a, template_hash: tpl.body.template.hash_id, test_workers: 0 });
    assert.deepEqual([fromTemplate.status, fromTemplate.body.error], [400, 'max_workergroups'], fromTemplate.text);
    // A move to a full endpoint is refused; it stays where it was.
    const onB = await as('POST', '/api/v0/workergroups/', { endpoint_id: b, ...worker });
    assert.equal(onB.status, 200, onB.text);
    const moved = await as('PUT', `/api/v0/workergroups/${onB.body.id as number}/`, { endpoint_id: a });
    assert.deepEqual([moved.status, moved.body.error], [400, 'max_workergroups'], moved.text);
    // Three in all: the account's bound, on an endpoint that has room.
    const fourth = await as('POST', '/api/v0/workergroups/', { endpoint_id: b, ...worker });
    assert.deepEqual([fourth.status, fourth.body.error], [400, 'max_workergroups'], fourth.text);
    assert.match(fourth.body.msg as string, /An account holds at most 3 workergroups/);
    // A deployment's workergroup counts: refused, its endpoint is taken back.
    const p = await g.control.authenticate(key);
    await assert.rejects(g.control.serverless.createDeployment(p, { ...DEPLOYMENT, testWorkers: 0 }), { code: 'WORKERGROUP_LIMIT' });
    assert.equal((await g.control.serverless.findEndpoint(p, 'dep'))?.target ?? 'deleted', 'deleted');
    assert.equal((await as('DELETE', `/api/v0/workergroups/${groups[0] as number}/`)).status, 200);
    const again = await as('POST', '/api/v0/workergroups/', { endpoint_id: a, ...worker });
    assert.equal(again.status, 200, again.text);
    assert.equal((await as('GET', '/api/v0/workergroups/')).body.results.length, 3);
    for (let i = 0; i < 3; i++)
      assert.equal((await g.api('POST', '/api/v0/workergroups/', { endpoint_id: a, ...worker })).status, 200, 'an admin is not bound');
  });

  it('at most maxTemplatesPerAccount templates: one more is 400 max_templates; the same content again answers the one it has; a deleted one frees its place', async () => {
    const { as } = await user('templates');
    const made: string[] = [];
    for (const name of ['one', 'two']) {
      const r = await as('POST', '/api/v0/template/', { name, image: 'ubuntu' });
      assert.equal(r.status, 200, r.text);
      made.push(r.body.template.hash_id as string);
    }
    const third = await as('POST', '/api/v0/template/', { name: 'three', image: 'ubuntu' });
    assert.deepEqual([third.status, third.body.success, third.body.error], [400, false, 'max_templates'], third.text);
    assert.match(third.body.msg as string, /An account holds at most 2 templates; delete one first/);
    const same = await as('POST', '/api/v0/template/', { name: 'one', image: 'ubuntu' });
    assert.deepEqual([same.status, same.body.template.hash_id], [200, made[0]], same.text);
    assert.equal((await as('DELETE', '/api/v0/template/', { hash_id: made[0] })).status, 200);
    const again = await as('POST', '/api/v0/template/', { name: 'three', image: 'ubuntu' });
    assert.equal(again.status, 200, again.text);
    for (let i = 0; i < 3; i++)
      assert.equal((await g.api('POST', '/api/v0/template/', { name: `admin-${i}`, image: 'ubuntu' })).status, 200, 'an admin is not bound');
  });
});
