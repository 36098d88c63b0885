import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  blobKeyOf,
  checkFileHash,
  checkHeartbeatTtl,
  codeTtlDeadline,
  decideCodeUpdate,
  madeFromTemplate,
  specChanges,
  versionsToEvict,
  workerUpdateMethod,
  type CodeVersionRecord,
  type CodeWorkerSpec,
} from '../../src/domain/serverless/code-deployment.js';
import { GantryError } from '../../src/domain/errors.js';

const SPEC: CodeWorkerSpec = { image: 'python:3.12', env: '-e A=1', searchParams: 'gpu_ram>=8', storageGb: 16, dockerLoginDigest: null };
const H1 = 'a'.repeat(64);
const H2 = 'b'.repeat(64);

describe('the update tier of a code deployment PUT (decision table)', () => {
  const spec = (o: Partial<CodeWorkerSpec>): CodeWorkerSpec => ({ ...SPEC, ...o });
  // [stored (null: none), spec now, file_hash now, params changed, tier]
  const table: [{ spec: CodeWorkerSpec; fileHash: string | null } | null, CodeWorkerSpec, string, boolean, string][] = [
    [null, SPEC, H1, false, 'created'],
    [null, SPEC, H1, true, 'created'],
    [{ spec: SPEC, fileHash: H1 }, SPEC, H1, false, 'exists'],
    [{ spec: SPEC, fileHash: H1 }, SPEC, H1, true, 'autoscale_update'],
    [{ spec: SPEC, fileHash: H1 }, SPEC, H2, false, 'soft_update'],
    [{ spec: SPEC, fileHash: H1 }, SPEC, H2, true, 'soft_update'],
    [{ spec: SPEC, fileHash: null }, SPEC, H1, false, 'soft_update'],
    [{ spec: SPEC, fileHash: H1 }, spec({ image: 'python:3.13' }), H1, false, 'updated'],
    [{ spec: SPEC, fileHash: H1 }, spec({ env: '-e A=2' }), H2, true, 'updated'],
    [{ spec: SPEC, fileHash: H1 }, spec({ env: null }), H1, false, 'updated'],
    [{ spec: SPEC, fileHash: H1 }, spec({ searchParams: 'gpu_ram>=24' }), H1, false, 'updated'],
    [{ spec: SPEC, fileHash: H1 }, spec({ storageGb: 32 }), H1, false, 'updated'],
    [{ spec: SPEC, fileHash: H1 }, spec({ dockerLoginDigest: 'x' }), H1, false, 'updated'],
  ];
  for (const [before, now, fileHash, paramsChanged, tier] of table) {
    it(`${before === null ? 'none stored' : `stored ${before.fileHash?.[0] ?? 'no code'}`}, ${JSON.stringify(specChanges(SPEC, now))} changed, hash ${fileHash[0]}, params ${paramsChanged ? 'changed' : 'same'} → ${tier}`, () => {
      assert.equal(decideCodeUpdate({ before, spec: now, fileHash, paramsChanged }), tier);
    });
  }
});

describe('version eviction', () => {
  const v = (id: number, lastUsedAt: number): CodeVersionRecord => ({
    id,
    deploymentId: 1,
    accountId: 1,
    fileHash: `h${id}`.padEnd(8, '0'),
    fileSize: 1,
    versionLabel: null,
    uploadedAt: null,
    createdAt: lastUsedAt,
    lastUsedAt,
  });
  it('keeps the newest by use, ties by id', () => {
    const all = [v(1, 10), v(2, 20), v(3, 30), v(4, 30)];
    assert.deepEqual(
      versionsToEvict(all, 2, 4).map((x) => x.id),
      [2, 1],
    );
  });
  it('never evicts the current version, whatever its age', () => {
    assert.deepEqual(
      versionsToEvict([v(1, 10), v(2, 20), v(3, 30)], 2, 1).map((x) => x.id),
      [2],
    );
  });
  it('keeps at least one, and evicts nothing below the bound', () => {
    assert.deepEqual(
      versionsToEvict([v(1, 10), v(2, 20)], 0, 2).map((x) => x.id),
      [1],
    );
    assert.deepEqual(versionsToEvict([v(1, 10), v(2, 20)], 5, 2), []);
  });
});

describe('code deployment inputs', () => {
  it('takes hashes that name a file safely', () => {
    assert.equal(checkFileHash(H1), H1);
    assert.equal(blobKeyOf(7, H1), `7/${H1}`);
    for (const bad of ['../../etc/passwd', 'short', 'a/b'.repeat(4), 'x'.repeat(129), 'a b c d e f'])
      assert.throws(
        () => checkFileHash(bad),
        (e: unknown) => e instanceof GantryError && e.code === 'INVALID_ARGUMENT',
      );
  });
  it('bounds the heartbeat ttl', () => {
    assert.equal(checkHeartbeatTtl(null, 10), null);
    assert.equal(checkHeartbeatTtl(60, 10), 60);
    for (const bad of [9, -1, Number.NaN, 400 * 86_400]) assert.throws(() => checkHeartbeatTtl(bad, 10), /'ttl' must be a number of seconds/);
  });
});

describe("a code deployment's ttl deadline", () => {
  it('counts from the last heartbeat, else from creation; none without a ttl', () => {
    assert.equal(codeTtlDeadline({ ttlS: 30, lastHeartbeatAt: null, createdAt: 1_000 }), 31_000);
    assert.equal(codeTtlDeadline({ ttlS: 30, lastHeartbeatAt: 50_000, createdAt: 1_000 }), 80_000);
    assert.equal(codeTtlDeadline({ ttlS: null, lastHeartbeatAt: 50_000, createdAt: 1_000 }), null);
  });
});

describe('how `update workers` brings a worker up to date (decision table)', () => {
  it('restarts in place only a worker that loads its code at start and is what the template makes now', () => {
    // [loads its code at start, made from the template as it is now, method]
    const table: [boolean, boolean, string][] = [
      [true, true, 'restart'],
      [true, false, 'replace'],
      [false, true, 'replace'],
      [false, false, 'replace'],
    ];
    for (const [loadsCodeAtStart, made, method] of table)
      assert.equal(workerUpdateMethod({ loadsCodeAtStart, madeFromTemplate: made }), method, JSON.stringify({ loadsCodeAtStart, made }));
  });

  it("compares the image, onstart, disk and the template's env vars (the worker may have more)", () => {
    const t = { image: 'python:3.12', onstart: 'exec boot', diskGb: 16, env: { A: '1' } };
    const i = { ...t, env: { A: '1', DEPLOYMENT_ID: '4' } };
    assert.equal(madeFromTemplate(t, i), true);
    assert.equal(madeFromTemplate({ ...t, image: 'python:3.13' }, i), false);
    assert.equal(madeFromTemplate({ ...t, onstart: 'exec other' }, i), false);
    assert.equal(madeFromTemplate({ ...t, diskGb: 32 }, i), false);
    assert.equal(madeFromTemplate({ ...t, env: { A: '2' } }, i), false);
    assert.equal(madeFromTemplate({ ...t, env: { A: '1', B: '1' } }, i), false);
  });
});
