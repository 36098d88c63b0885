import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { instanceKey } from '../../src/control/keys.js';
import { startTestGantry, type TestGantry } from '../helpers/gantry.js';
import { ManualClock } from '../helpers/manual-clock.js';
import { SERVERLESS_FAST, until, workersOf } from '../helpers/serverless.js';
import { ONE_STORE_PG } from '../helpers/stores.js';

/**
 * Code deployments over real HTTP (decision 020): the PUT of Vast's deployments SDK and its update
 * tiers, the upload endpoint and every refusal of it (nothing stored), versions and their eviction,
 * the heartbeat, and the download_url a worker's instance key may ask for. On both stores: the
 * versions, tokens and code rows are new tables.
 */
const MAX_UPLOAD = 4096;
const hash = (): string => randomBytes(32).toString('hex');

// The Vast dialect's code deployments are the subject, not the store (code-deployment-store.contract runs on both): one store, PostgreSQL.
for (const ts of ONE_STORE_PG) {
  describe(`vast code deployments (${ts.name})`, { skip: ts.skip }, () => {
    let g: TestGantry;
    const clock = new ManualClock();
    before(async () => {
      g = await startTestGantry(ts, {
        gpus: '4x RTX 4090:24GB',
        clock,
        settings: { ...SERVERLESS_FAST, codeUploadMaxBytes: MAX_UPLOAD, codeVersionsKept: 2, codeUploadTokenTtlMs: 2000, codeDownloadUrlTtlMs: 2000 },
      });
    });
    after(() => g.dispose());

    const base = (o: Record<string, unknown> = {}): Record<string, unknown> => ({
      name: 'square',
      image: 'python:3.12-slim',
      file_hash: 'a'.repeat(64),
      file_size: 100,
      env: '-p 3000:3000/tcp -e REPORT_ADDR=http://127.0.0.1:1',
      search_params: 'gpu_ram>=8',
      storage: 16,
      max_workers: 1,
      cold_workers: 0,
      ...o,
    });
    const put = (body: unknown, key?: string) => g.api('PUT', '/api/v0/deployments/', body, key !== undefined ? { key } : {});
    const upload = async (fields: Record<string, string>, bytes: Uint8Array | null, url = `${g.url}/api/v0/deployment_uploads/`) => {
      const form = new FormData();
      for (const [k, v] of Object.entries(fields)) form.append(k, v);
      if (bytes !== null) form.append('file', new Blob([bytes], { type: 'application/gzip' }), 'deployment.tar.gz');
      const res = await fetch(url, { method: 'POST', body: form });
      const text = await res.text();
      return { status: res.status, body: JSON.parse(text) as Record<string, any>, text };
    };
    const refused = (r: { status: number; body: Record<string, any>; text: string }, status: number, msg: RegExp): void => {
      assert.equal(r.status, status, r.text);
      assert.equal(r.body.success, false, r.text);
      assert.equal(typeof r.body.error, 'string', r.text);
      assert.match(String(r.body.msg), msg, r.text);
    };
    const blobPath = (fileHash: string): string => join(g.dataDir, 'blobs', '1', fileHash);
    const tmpEmpty = (): boolean => !existsSync(join(g.dataDir, 'blobs', 'tmp')) || readdirSync(join(g.dataDir, 'blobs', 'tmp')).length === 0;

    it('refuses bad configs with a 400 in Vast shape, and creates nothing', async () => {
      const cases: [Record<string, unknown>, RegExp][] = [
        [{ name: undefined }, /'name' is required/],
        [{ image: 7 }, /'image' must be a string/],
        [{ file_size: '100' }, /'file_size' must be a number/],
        [{ file_size: 1.5 }, /'file_size' must be a whole number/],
        [{ file_size: MAX_UPLOAD + 1 }, /'file_size' must be a whole number of bytes from 1 to 4096/],
        [{ file_hash: '../../etc' }, /'file_hash' must be 8 to 128 letters/],
        [{ storage: 'big' }, /'storage' must be a number/],
        [{ storage: -1 }, /'storage' must be a positive number/],
        [{ ttl: 1 }, /'ttl' must be a number of seconds from 10/],
        [{ max_workers: '3' }, /'max_workers' must be a number/],
        [{ max_workers: -1 }, /'max_workers' must be an integer/],
        [{ target_util: 2 }, /'target_util' must be a number above 0/],
        [{ search_params: 'gpu_ram>=' }, /./],
        [{ env: '-e' }, /./],
        [{ env: '-e GANTRY_CODE_RUNTIME=ruby' }, /'env' sets GANTRY_CODE_RUNTIME="ruby"; it may be 'node'/],
        [{ tag: 'bad tag' }, /'tag' must be 1-128 letters/],
        [{ surprise: 1 }, /Unknown field\(s\) 'surprise'/],
      ];
      for (const [o, msg] of cases) {
        const r = await put(base(o));
        assert.equal(r.status, 400, `${JSON.stringify(o)}: ${r.text}`);
        assert.equal(r.body.success, false);
        assert.match(r.body.msg, msg, JSON.stringify(o));
      }
      const list = await g.api('GET', '/api/v0/deployments/');
      assert.deepEqual(list.body.deployments, []);
    });

    let first: Record<string, any>;
    it('creates a deployment of (name, tag) and answers an absolute upload URL with single-use fields', async () => {
      const r = await put(base({ ttl: 60, version_label: 'v1' }));
      assert.equal(r.status, 200, r.text);
      first = r.body;
      assert.equal(first.action, 'created');
      assert.equal(first.upload_url, `${g.url}/api/v0/deployment_uploads/`);
      assert.deepEqual(Object.keys(first.upload_fields).sort(), ['key', 'token']);
      assert.deepEqual(first.evicted_versions, []);
      const show = await g.api('GET', `/api/v0/deployment/${first.deployment_id}/`);
      const d = show.body.deployment;
      assert.equal(d.file_hash, 'a'.repeat(64));
      assert.equal(d.image, 'python:3.12-slim');
      assert.equal(d.ttl, 60);
      assert.equal(d.storage, 16);
      assert.equal(d.endpoint_id, first.endpoint_id);
      assert.equal(d.last_client_heartbeat, null);
      assert.equal(typeof d.current_version_id, 'number');
    });

    it('refuses every bad upload with a 4xx and stores nothing', async () => {
      const { key, token } = first.upload_fields as { key: string; token: string };
      refused(await upload({ key, token }, null), 400, /no 'file' part/);
      refused(await upload({ key }, new Uint8Array(100)), 403, /token/);
      refused(await upload({ key, token: `${token.slice(0, -4)}AAAA` }, new Uint8Array(100)), 403, /signature/);
      refused(await upload({ key: `${first.deployment_id}/${'b'.repeat(64)}`, token }, new Uint8Array(100)), 400, /issued for version/);
      const notForm = await fetch(`${g.url}/api/v0/deployment_uploads/`, { method: 'POST', headers: { 'content-type': 'text/plain' }, body: 'x' });
      assert.equal(notForm.status, 400);
      assert.match(await notForm.text(), /multipart\/form-data/);
      refused(await upload({ key, token }, new Uint8Array(MAX_UPLOAD + 10)), 400, /larger than 4096 bytes/);
      // A body without Content-Length is capped as it streams.
      const form = new FormData();
      form.append('key', key);
      form.append('token', token);
      form.append('file', new Blob([new Uint8Array(MAX_UPLOAD * 2)]), 'f.tar.gz');
      const streamed = await fetch(`${g.url}/api/v0/deployment_uploads/`, {
        method: 'POST',
        headers: { 'content-type': new Request('http://x', { method: 'POST', body: form }).headers.get('content-type') as string },
        body: new Request('http://x', { method: 'POST', body: form }).body,
        duplex: 'half',
      });
      assert.equal(streamed.status, 400);
      assert.match(await streamed.text(), /larger than 4096 bytes/);
      // The size declared by the PUT is checked: this takes the token, stores nothing.
      refused(await upload({ key, token }, new Uint8Array(99)), 400, /holds 99 bytes, but the deployment declared file_size 100/);
      refused(await upload({ key, token }, new Uint8Array(100)), 409, /used already/);
      assert.equal(existsSync(blobPath('a'.repeat(64))), false);
      assert.ok(tmpEmpty());
      const versions = await g.api('GET', `/api/v0/deployment/${first.deployment_id}/versions/`);
      assert.deepEqual(
        versions.body.versions.map((v: Record<string, unknown>) => [v.file_hash, v.uploaded, v.status]),
        [['a'.repeat(64), false, 'current']],
      );
    });

    it('answers a new token while the code is not stored; a second upload of a stored version is a no-op', async () => {
      const again = (await put(base({ ttl: 60 }))).body;
      const third = (await put(base({ ttl: 60 }))).body;
      assert.equal(again.action, 'exists');
      assert.ok(again.upload_url !== null && third.upload_url !== null);
      const bytes = randomBytes(100);
      const stored = await upload(again.upload_fields, bytes);
      assert.equal(stored.status, 201, stored.text);
      assert.equal(stored.body.stored, true);
      const noop = await upload(third.upload_fields, randomBytes(100));
      assert.equal(noop.status, 200, noop.text);
      assert.equal(noop.body.stored, false);
      refused(await upload(again.upload_fields, bytes), 409, /used already/);
      assert.ok(existsSync(blobPath('a'.repeat(64))));
      const unchanged = (await put(base({ ttl: 60 }))).body;
      assert.equal(unchanged.action, 'exists');
      assert.equal(unchanged.upload_url, null);
      assert.equal(unchanged.upload_fields, null);
      // The worker's download: the owner may ask too; the URL serves exactly the stored bytes, then expires.
      const dl = await g.api('GET', `/api/v0/deployment/${first.deployment_id}/download_url/`);
      assert.equal(dl.status, 200, `download_url: ${dl.text} ${JSON.stringify([...dl.headers])}`);
      const got = await fetch(dl.body.download_url as string);
      assert.equal(got.status, 200);
      assert.deepEqual(Buffer.from(await got.arrayBuffer()), bytes);
      clock.advance(2001);
      const late = await fetch(dl.body.download_url as string);
      assert.equal(late.status, 403);
      assert.match(await late.text(), /expired/);
    });

    it('takes only scaling params as autoscale_update, code as soft_update, image or env as a hard update', async () => {
      const auto = (await put(base({ ttl: 60, max_workers: 2 }))).body;
      assert.equal(auto.action, 'autoscale_update');
      assert.equal(auto.upload_url, null);
      const ep = await g.api('GET', `/api/v0/endptjobs/${first.endpoint_id}/`);
      assert.equal(ep.body.result.max_workers, 2);

      const soft = (await put(base({ ttl: 60, max_workers: 2, file_hash: 'c'.repeat(64), file_size: 50 }))).body;
      assert.equal(soft.action, 'soft_update');
      assert.equal(soft.deployment_id, first.deployment_id);
      assert.ok(soft.upload_url !== null);
      // Its token expires: the upload is refused, nothing stored.
      clock.advance(2001);
      refused(await upload(soft.upload_fields, new Uint8Array(50)), 403, /expired/);
      assert.equal(existsSync(blobPath('c'.repeat(64))), false);
      // download_url of a current version not uploaded yet.
      const dl = await g.api('GET', `/api/v0/deployment/${first.deployment_id}/download_url/`);
      assert.equal(dl.status, 409, dl.text);

      const hard = (await put(base({ ttl: 60, max_workers: 2, file_hash: 'c'.repeat(64), file_size: 50, image: 'python:3.13-slim' }))).body;
      assert.equal(hard.action, 'updated');
      const wg = await g.api('GET', '/api/v0/workergroups/');
      const mine = (wg.body.results as Record<string, any>[]).find((w) => w.id === hard.workergroup_id) as Record<string, any>;
      assert.equal(mine.endpoint_id, first.endpoint_id);
      assert.equal(mine.image ?? mine.template?.image, 'python:3.13-slim', JSON.stringify(mine));
      // A refused update changes nothing, not even the scaling parameters it carried.
      const bad = await put(base({ ttl: 60, max_workers: 4, file_hash: 'c'.repeat(64), file_size: 50, image: 'python:3.13-slim', env: '-e' }));
      assert.equal(bad.status, 400, bad.text);
      assert.equal((await g.api('GET', `/api/v0/endptjobs/${first.endpoint_id}/`)).body.result.max_workers, 2);
      const envChange = (await put(base({ ttl: 60, max_workers: 2, file_hash: 'c'.repeat(64), file_size: 50, image: 'python:3.13-slim', env: '-e A=1' }))).body;
      assert.equal(envChange.action, 'updated');
    });

    it('keeps the newest versions and evicts the rest with their blobs', async () => {
      const cfg = { ttl: 60, max_workers: 2, image: 'python:3.13-slim', env: '-e A=1' };
      const h = hash();
      const r = (await put(base({ ...cfg, file_hash: h, file_size: 10 }))).body;
      assert.equal(r.action, 'soft_update');
      assert.deepEqual(
        r.evicted_versions.map((v: Record<string, unknown>) => v.file_hash),
        ['a'.repeat(64)],
      );
      assert.equal(existsSync(blobPath('a'.repeat(64))), false);
      const versions = (await g.api('GET', `/api/v0/deployment/${first.deployment_id}/versions/`)).body.versions as Record<string, unknown>[];
      assert.deepEqual(
        versions.map((v) => [v.file_hash, v.status]),
        [
          [h, 'current'],
          ['c'.repeat(64), 'previous'],
        ],
      );
      // Back to a kept version: it is current again, nothing evicted.
      const back = (await put(base({ ...cfg, file_hash: 'c'.repeat(64), file_size: 50 }))).body;
      assert.equal(back.action, 'soft_update');
      assert.deepEqual(back.evicted_versions, []);
    });

    it('records heartbeats and shows them', async () => {
      const hb = await g.api('POST', `/api/v0/deployment/${first.deployment_id}/heartbeat/`);
      assert.equal(hb.status, 200, hb.text);
      const d = (await g.api('GET', `/api/v0/deployment/${first.deployment_id}/`)).body.deployment;
      assert.equal(d.last_client_heartbeat, clock.now() / 1000);
      assert.equal((await g.api('POST', '/api/v0/deployment/999999/heartbeat/')).status, 404);
    });

    it("lets a worker's instance key fetch download_url, no other instance's", async () => {
      const h = hash();
      const r = (await put(base({ name: 'square', tag: 'gpu', file_hash: h, file_size: 10, max_workers: 1, min_load: 1 }))).body;
      assert.equal(r.action, 'created');
      assert.notEqual(r.deployment_id, first.deployment_id);
      assert.equal((await upload(r.upload_fields, new Uint8Array(10))).status, 201);
      const worker = await until('a worker of the tagged deployment', async () => (await workersOf(g, r.endpoint_id as number))[0]);
      const secret = g.control.ctx.secret;
      const mine = await g.api('GET', `/api/v0/deployment/${r.deployment_id}/download_url/`, undefined, { key: instanceKey(secret, worker.id) });
      assert.equal(mine.status, 200, mine.text);
      assert.match(mine.body.download_url, new RegExp(`^${g.url}/api/v0/deployment_code/`));
      const other = await g.api('GET', `/api/v0/deployment/${first.deployment_id}/download_url/`, undefined, { key: instanceKey(secret, worker.id) });
      assert.equal(other.status, 403, other.text);
      assert.equal(other.body.code, 'FORBIDDEN');
      const forbidden = await g.api('GET', `/api/v0/deployment/${r.deployment_id}/`, undefined, { key: instanceKey(secret, worker.id) });
      assert.equal(forbidden.status, 403, forbidden.text);
      // Deleting by name and tag leaves the default tag's deployment.
      const del = await g.api('DELETE', '/api/v0/deployments/', { name: 'square', tag: 'gpu' });
      assert.deepEqual(del.body.deleted, [r.deployment_id]);
      // Once it is removed, its code goes too (no other version holds it).
      assert.ok(existsSync(blobPath(h)));
      await until("the deleted deployment's code removed", async () => !existsSync(blobPath(h)));
      assert.equal((await g.api('GET', `/api/v0/deployment/${first.deployment_id}/`)).status, 200);
    });
  });
}
