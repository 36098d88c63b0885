import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { engineFor } from '../../src/runtime/docker/docker-runtime.js';
import { dockerSkip, testDockerHost, testImage } from '../helpers/docker.js';
import { startTestGantry, type ApiResponse, type TestGantry } from '../helpers/gantry.js';
import { TEST_STORES } from '../helpers/stores.js';

/**
 * Tenant isolation, two holes closed: a key without billing_write moved credit out of its
 * account by giving a new subaccount credit; and snapshots, whose images live in a host's engine shared by
 * every account: another account could run a snapshot (its container's files) by its predictable name, or
 * replace any image of the host by naming its snapshot after it.
 */
const ts = TEST_STORES.find((s) => s.name === 'sqlite') ?? TEST_STORES[0];

interface Tenant {
  readonly id: number;
  readonly key: string;
}

async function tenants(g: TestGantry): Promise<{ alice: Tenant; bob: Tenant }> {
  const mk = async (name: string): Promise<Tenant> => {
    const r = await g.api('POST', '/api/v0/users/', { username: name, credit: 100 });
    assert.equal(r.status, 200, r.text);
    return { id: r.body.id, key: r.body.api_key };
  };
  return { alice: await mk('alice'), bob: await mk('bob') };
}

async function rent(g: TestGantry, t: Tenant, image: string, onstart = 'sleep 300'): Promise<ApiResponse> {
  const machine = (await g.api('GET', '/api/v0/machines/')).body.machines[0].id as number;
  return g.api('PUT', `/api/v0/asks/${machine * 1000 + 1}/`, { image, onstart, runtype: 'ssh' }, { key: t.key });
}

describe('tenant isolation: subaccount credit and snapshot images', { skip: ts?.skip ?? 'no store' }, () => {
  let g: TestGantry;
  let alice: Tenant;
  let bob: Tenant;
  before(async () => {
    g = await startTestGantry(ts!, { gpus: '4x RTX 4090:24GB' });
    ({ alice, bob } = await tenants(g));
  });
  after(() => g.dispose());

  const balance = async (t: Tenant): Promise<number> => (await g.api('GET', '/api/v0/users/current/', undefined, { key: t.key })).body.balance;

  it('a key without billing_write cannot give a new subaccount credit (it would move the balance out)', async () => {
    const mkKey = async (api: Record<string, unknown>) =>
      (await g.api('POST', '/api/v0/auth/apikeys/', { name: 'k', permissions: { api } }, { key: alice.key })).body.key as string;
    const userWrite = await mkKey({ user_write: {} });
    const before = await balance(alice);
    const r = await g.api('POST', '/api/v0/users/', { username: 'drain-sub', parent_id: 'me', credit: 40 }, { key: userWrite });
    assert.equal(r.status, 403, r.text);
    assert.equal(r.body.code, 'PERMISSION_MISSING');
    assert.match(r.body.msg, /billing_write/);
    assert.equal(await balance(alice), before);
    // Without credit the same key still makes a subaccount; with billing_write too it may fund it.
    assert.equal((await g.api('POST', '/api/v0/users/', { username: 'plain-sub', parent_id: 'me' }, { key: userWrite })).status, 200);
    const both = await mkKey({ user_write: {}, billing_write: {} });
    const funded = await g.api('POST', '/api/v0/users/', { username: 'funded-sub', parent_id: 'me', credit: 5 }, { key: both });
    assert.equal(funded.status, 200, funded.text);
    assert.equal(await balance(alice), before - 5);
  });

  it("another account's snapshot image is refused alike whether it exists or not; a snapshot's name is its account's", async () => {
    const a = await rent(g, alice, 'x');
    assert.equal(a.status, 200, a.text);
    const id = a.body.new_contract as number;
    await g.waitInstance(id, (x) => x.actual_status === 'running', 20_000, alice.key);
    const snap = await g.api('POST', `/api/v0/instances/take_snapshot/${id}/`, {}, { key: alice.key });
    assert.equal(snap.status, 200, snap.text);
    assert.equal(snap.body.image, `gantry-snapshot/instance-${id}`);
    // The process runtime keeps each account's snapshots apart (an archive per account): a custom name is kept there.
    const custom = await g.api('POST', `/api/v0/instances/take_snapshot/${id}/`, { personal_repo: 'me/snap:v1' }, { key: alice.key });
    assert.equal(custom.status, 200, custom.text);
    assert.equal(custom.body.image, 'me/snap:v1');

    const refused = async (image: string): Promise<void> => {
      const r = await rent(g, bob, image);
      assert.equal(r.status, 400, `${image}: ${r.text}`);
      assert.equal(r.body.code, 'INVALID_ARGUMENT');
      assert.equal(r.body.msg, `Image ${JSON.stringify(image)} names no snapshot of this account; snapshots run only for the account that took them.`);
    };
    for (const image of [
      `gantry-snapshot/instance-${id}`,
      `gantry-snapshot/instance-${id}:latest`,
      `localhost/gantry-snapshot/instance-${id}`,
      `docker.io/gantry-snapshot/instance-${id}`,
      `gantry-snapshot/a${alice.id}/ubuntu:22.04`,
      // Made up: the same answer.
      'gantry-snapshot/instance-987654',
      'gantry-snapshot/a987654/ubuntu:22.04',
      'gantry-snapshot/anything',
    ])
      await refused(image);
    // Alice runs her own; Bob's own snapshot name is his; an ordinary image is anyone's.
    const own = await rent(g, alice, `gantry-snapshot/instance-${id}`);
    assert.equal(own.status, 200, own.text);
    const plain = await rent(g, bob, 'ubuntu:22.04');
    assert.equal(plain.status, 200, plain.text);
    for (const i of [id, own.body.new_contract]) await g.api('DELETE', `/api/v0/instances/${i}/`, undefined, { key: alice.key });
    await g.api('DELETE', `/api/v0/instances/${plain.body.new_contract}/`, undefined, { key: bob.key });
  });
});

/** The same on a real engine (Podman): what Bob could do before, reading Alice's files through her snapshot's image. */
describe('tenant isolation: snapshots on the docker runtime (Podman)', { skip: dockerSkip() || ts?.skip || false, timeout: 120_000 }, () => {
  let g: TestGantry;
  let made: string[] = [];
  before(async () => {
    g = await startTestGantry(ts!, { gpus: '4x RTX 4090:24GB', settings: { runtime: 'docker', dockerHost: testDockerHost(), stopGraceMs: 1000 } });
  });
  after(async () => {
    for (const ref of made)
      await engineFor(testDockerHost())
        .getImage(ref)
        .remove({ force: true })
        .catch(() => undefined);
    await g?.dispose();
  });

  it("Bob neither runs Alice's snapshot nor replaces an image by naming his snapshot after it", async () => {
    const { alice, bob } = await tenants(g);
    const a = await rent(g, alice, testImage(), 'echo alice-only > /secret.txt; sleep 300');
    assert.equal(a.status, 200, a.text);
    const b = await rent(g, bob, testImage());
    assert.equal(b.status, 200, b.text);
    await g.waitInstance(a.body.new_contract, (x) => x.actual_status === 'running', 60_000, alice.key);
    await g.waitInstance(b.body.new_contract, (x) => x.actual_status === 'running', 60_000, bob.key);
    const snap = await g.api('POST', `/api/v0/instances/take_snapshot/${a.body.new_contract}/`, {}, { key: alice.key });
    assert.equal(snap.status, 200, snap.text);
    made.push(snap.body.image);
    assert.ok((snap.body.image as string).startsWith(`gantry-snapshot/a${alice.id}/instance-`), snap.text);
    const run = await rent(g, bob, snap.body.image, 'cat /secret.txt; sleep 300');
    assert.equal(run.status, 400, run.text);
    // By its id (or a prefix of it) the name says nothing: the host refuses what it resolves to.
    const imageId = (
      await engineFor(testDockerHost())
        .getImage(snap.body.image as string)
        .inspect()
    ).Id;
    const byId = await rent(g, bob, imageId, 'cat /secret.txt; sleep 300');
    assert.equal(byId.status, 200, byId.text);
    const refused = await g.waitInstance(byId.body.new_contract, (x) => /snapshot of another account/.test(String(x.status_msg)), 60_000, bob.key);
    assert.notEqual(refused.actual_status, 'running');
    await g.api('DELETE', `/api/v0/instances/${byId.body.new_contract}/`, undefined, { key: bob.key });
    // Bob's snapshot named after the image every account runs lands in his namespace; the image itself is untouched.
    const before = await engineFor(testDockerHost()).getImage(testImage()).inspect();
    const bs = await g.api('POST', `/api/v0/instances/take_snapshot/${b.body.new_contract}/`, { personal_repo: testImage() }, { key: bob.key });
    if (bs.status === 200) made.push(bs.body.image);
    assert.ok(bs.status === 200 || bs.status === 400, bs.text);
    if (bs.status === 200) assert.ok((bs.body.image as string).startsWith(`gantry-snapshot/a${bob.id}/`), bs.text);
    assert.equal((await engineFor(testDockerHost()).getImage(testImage()).inspect()).Id, before.Id);
    made = [...new Set(made)];
    for (const [t, r] of [
      [alice, a],
      [bob, b],
    ] as const)
      await g.api('DELETE', `/api/v0/instances/${r.body.new_contract}/`, undefined, { key: t.key });
  });
});
