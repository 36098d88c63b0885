import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { GantryError } from '../../src/domain/errors.js';
import { DEFAULT_PLACEMENT } from '../../src/domain/offer/search.js';
import { DEFAULT_ENDPOINT_PARAMS } from '../../src/domain/serverless/params.js';
import type { CodeWorkerSpec } from '../../src/domain/serverless/code-deployment.js';
import { FsBlobStore } from '../../src/store/blobs/fs-blob-store.js';
import type { Store } from '../../src/store/store.js';
import { twoReplicas, type TwoReplicas } from '../helpers/replicas.js';
import { TEST_STORES } from '../helpers/stores.js';

/** The code-deployment part of the store port (decision 020) on every adapter, and the file blob store. */
const SPEC: CodeWorkerSpec = { image: 'python:3.12', env: null, searchParams: null, storageGb: 16, dockerLoginDigest: null };
const H = (c: string): string => c.repeat(64);

for (const ts of TEST_STORES) {
  describe(`code deployment store contract: ${ts.name}`, { skip: ts.skip }, () => {
    let store: Store;
    let other: Store;
    let accountId: number;
    let n = 0;

    /** A deployment row as the use case makes it: endpoint, workergroup, deployment, then its code side. */
    const deployment = async (name: string, tag = 'default') => {
      const ep = await store.createEndpoint({
        accountId,
        name: `${name}.${tag}.${++n}`,
        apiKey: `gek_${n}`,
        params: DEFAULT_ENDPOINT_PARAMS,
        aliasOf: null,
        now: 1,
      });
      const wg = await store.createWorkergroup({
        accountId,
        endpointId: ep.id,
        template: { image: 'x', env: {}, ports: [], onstart: null, args: null, diskGb: 1 },
        placement: DEFAULT_PLACEMENT,
        launchArgs: null,
        gpuRamGb: null,
        testWorkers: 0,
        now: 1,
      });
      const d = await store.createDeployment({ accountId, name, tag, endpointId: ep.id, workergroupId: wg.id, now: 1 });
      await store.createCodeDeployment({ deploymentId: d.id, accountId, spec: SPEC, dockerLogin: null, ttlS: 60, now: 1 });
      return { d, ep };
    };

    let replicas: TwoReplicas;
    before(async () => {
      replicas = await twoReplicas(ts, 'code-store');
      ({ store, other, accountId: accountId } = replicas);
    });
    after(() => replicas?.close());

    it('finds a live code deployment by account, name and tag; a deleted endpoint hides it', async () => {
      const { d, ep } = await deployment('find');
      const tagged = await deployment('find', 'gpu');
      assert.equal((await store.findCodeDeployment(accountId, 'find', 'default'))?.deploymentId, d.id);
      assert.equal((await store.findCodeDeployment(accountId, 'find', 'gpu'))?.deploymentId, tagged.d.id);
      assert.equal(await store.findCodeDeployment(accountId, 'find', 'cpu'), undefined);
      const login = { user: 'u', repo: null, passSealed: 'sealed' };
      await store.updateCodeDeployment(d.id, { spec: { ...SPEC, image: 'python:3.13' }, dockerLogin: login, ttlS: null, now: 5 });
      const got = await store.getCodeDeployment(d.id);
      assert.deepEqual([got?.spec.image, got?.dockerLogin, got?.ttlS, got?.updatedAt], ['python:3.13', login, null, 5]);
      await store.recordCodeHeartbeat(d.id, 1_796_000_000_123);
      assert.equal((await store.getCodeDeployment(d.id))?.lastHeartbeatAt, 1_796_000_000_123);
      assert.ok(await store.writeEndpointIntent(ep.id, ep.generation, { target: 'deleted', status: 'deleted', statusMsg: null, stop: null, now: 9 }));
      assert.equal(await store.findCodeDeployment(accountId, 'find', 'default'), undefined);
    });

    it('keeps one version per file_hash, concurrent PUTs included, most recently used first', async () => {
      const { d } = await deployment('versions');
      const use = (s: Store, h: string, now: number, label: string | null = null, size = 10) =>
        s.useCodeVersion({ deploymentId: d.id, accountId, fileHash: h, fileSize: size, versionLabel: label, now });
      const [a, b] = await Promise.all([use(store, H('a'), 10, 'v1'), use(other, H('a'), 10, 'v1')]);
      assert.equal(a.id, b.id, 'two PUTs of the same new code make one version');
      await use(store, H('b'), 20);
      const again = await use(store, H('a'), 30, null, 12);
      assert.deepEqual(
        [again.id, again.versionLabel, again.fileSize, again.lastUsedAt],
        [a.id, 'v1', 12, 30],
        'a label is kept when none is given; the size counts until uploaded',
      );
      assert.deepEqual(
        (await store.listCodeVersions(d.id)).map((v) => v.fileHash),
        [H('a'), H('b')],
      );
      await store.markCodeUploaded(accountId, H('a'), 40);
      assert.equal((await store.getCodeVersion(a.id))?.uploadedAt, 40);
      assert.equal((await use(store, H('a'), 50, null, 99)).fileSize, 12, 'an uploaded version keeps its stored size');
    });

    it('deletes versions and names the blobs no version holds any more', async () => {
      const one = await deployment('blobs1');
      const two = await deployment('blobs2');
      const use = (deploymentId: number, h: string) => store.useCodeVersion({ deploymentId, accountId, fileHash: h, fileSize: 1, versionLabel: null, now: 1 });
      const shared1 = await use(one.d.id, H('c'));
      await use(two.d.id, H('c'));
      const own = await use(one.d.id, H('d'));
      await store.addUploadToken('nonce-of-own', own.id, 99);
      assert.deepEqual(await store.deleteCodeVersions([shared1.id, own.id]), [{ accountId, fileHash: H('d') }]);
      assert.equal(await store.getCodeVersion(own.id), undefined);
      assert.equal(await store.takeUploadToken('nonce-of-own', 5), 'unknown', "a deleted version's tokens go with it");
      assert.deepEqual(await store.deleteCodeVersions([]), []);
    });

    it('takes an upload token once, even when two replicas race', async () => {
      const { d } = await deployment('tokens');
      const v = await store.useCodeVersion({ deploymentId: d.id, accountId, fileHash: H('e'), fileSize: 1, versionLabel: null, now: 1 });
      await store.addUploadToken('n1', v.id, 1_796_000_000_000);
      const takes = await Promise.all([store.takeUploadToken('n1', 2), other.takeUploadToken('n1', 2)]);
      assert.deepEqual(takes.sort(), ['taken', 'used']);
      assert.equal(await store.takeUploadToken('n1', 3), 'used');
      assert.equal(await store.takeUploadToken('never', 3), 'unknown');
    });
  });
}

describe('file blob store', () => {
  const bytes = (n: number): Uint8Array => new Uint8Array(n).fill(7);
  async function* parts(...ps: (Uint8Array | Error)[]): AsyncGenerator<Uint8Array> {
    for (const p of ps) {
      if (p instanceof Error) throw p;
      yield p;
    }
  }
  const code = (c: string) => (e: unknown) => e instanceof GantryError && e.code === c;

  it('stores all or nothing: a wrong size or a failing source leaves no blob and no temp file', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'gantry-blobs-'));
    try {
      const blobs = new FsBlobStore(dir);
      const key = `1/${H('f')}`;
      await assert.rejects(blobs.put(key, parts(bytes(5), bytes(5)), 9), code('UPLOAD_SIZE_MISMATCH'));
      await assert.rejects(blobs.put(key, parts(bytes(5)), 9), code('UPLOAD_SIZE_MISMATCH'));
      await assert.rejects(blobs.put(key, parts(bytes(5), new Error('client went away')), 9), /client went away/);
      assert.equal(await blobs.size(key), null);
      assert.deepEqual(await readdir(join(dir, 'tmp')), []);
      await blobs.put(key, parts(bytes(4), bytes(5)), 9);
      assert.equal(await blobs.size(key), 9);
      const read = await blobs.read(key);
      const got: Uint8Array[] = [];
      for await (const c of read.chunks) got.push(c);
      assert.deepEqual(Buffer.concat(got), Buffer.from(bytes(9)));
      await blobs.delete(key);
      await blobs.delete(key);
      assert.equal(await blobs.size(key), null);
      await assert.rejects(blobs.read(key), code('BLOB_STORE_UNAVAILABLE'));
      for (const bad of ['../x', '1/../../etc', 'a/b', `1/${H('f')}/x`]) await assert.rejects(blobs.size(bad), code('INVALID_ARGUMENT'), bad);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
