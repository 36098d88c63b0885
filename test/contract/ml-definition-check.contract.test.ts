import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Kysely, Migrator } from 'kysely';
import { KyselyStore } from '../../src/store/kysely/kysely-store.js';
import { migrations } from '../../src/store/kysely/migrations.js';
import type { Store } from '../../src/store/store.js';
import { twoReplicas, type TwoReplicas } from '../helpers/replicas.js';
import { EMBEDDING_CONFIG } from '../helpers/elastic-models.js';
import { TEST_STORES } from '../helpers/stores.js';

const CONFIG = EMBEDDING_CONFIG;
/** A whole definition in one part of four bytes of `fill`. */
const whole = (fill: number) => ({ index: 0, totalParts: 1, totalDefinitionLength: 4, bytes: new Uint8Array(4).fill(fill) });
const at = (now: number) => ({ now, maxAccountBytes: 0 });
/** Housekeeping's wait before it takes an unchecked definition again (UNCHECKED_AFTER_MS), as these tests count time. */
const WAIT = 600_000;

/**
 * The guard on the outcome of a definition check (the parts' stamp: version and time of the last part) and
 * housekeeping's claims of unchecked definitions, one behaviour for every adapter.
 */
for (const ts of TEST_STORES) {
  describe(`ml definition check contract: ${ts.name}`, { skip: ts.skip }, () => {
    let store: Store;
    let other: Store;
    let acct: number;
    const mine = async (before: number) => (await other.uncheckedDefinitions(before)).filter((m) => m.accountId === acct);

    let replicas: TwoReplicas;
    before(async () => {
      replicas = await twoReplicas(ts, 'ml-check');
      ({ store, other, accountId: acct } = replicas);
    });
    after(() => replicas?.close());

    it('two writes of the last part in the same millisecond: the check of the first records nothing', async () => {
      await store.createTrainedModel({ accountId: acct, modelId: 'same-ms', config: CONFIG, now: 1 });
      const first = await store.putModelPart(acct, 'same-ms', whole(1), at(1_000));
      // Replaced within the same millisecond (the clock as the writer read it), on another replica.
      const second = await other.putModelPart(acct, 'same-ms', whole(2), at(1_000));
      assert.ok(first.ok && second.ok);
      assert.notDeepEqual(first.stamp, second.stamp, 'each write has a stamp of its own');
      // The check of the first write read bytes 1: its outcome is not the model's, whatever it says.
      assert.equal(await store.setModelDefinitionChecked(acct, 'same-ms', { fullyDefined: true, onnx: { bytes: 1 } }, first.stamp), false);
      const m = await other.getTrainedModel(acct, 'same-ms');
      assert.deepEqual([m?.fullyDefined, m?.onnx], [false, null]);
      assert.equal(await other.setModelDefinitionChecked(acct, 'same-ms', { fullyDefined: true, onnx: { bytes: 2 } }, second.stamp), true);
      assert.deepEqual((await store.getTrainedModel(acct, 'same-ms'))?.onnx, { bytes: 2 });
    });

    it('a check that ran past the wait records its outcome after housekeeping took the parts again, while they are unchanged', async () => {
      await store.createTrainedModel({ accountId: acct, modelId: 'slow', config: CONFIG, now: 1 });
      const put = await store.putModelPart(acct, 'slow', whole(3), at(10_000));
      assert.ok(put.ok);
      // The check of the last part (stamp `put.stamp`) is still reading when housekeeping's wait is over.
      const [listed] = (await mine(10_000 + WAIT + 1)).filter((m) => m.modelId === 'slow');
      assert.deepEqual(listed, { accountId: acct, modelId: 'slow', totalParts: 1, stamp: put.stamp, attempts: 0 });
      assert.equal(await other.claimDefinitionCheck(acct, 'slow', listed.stamp, listed.attempts, 10_000 + WAIT + 1), true);
      // The first check ends: the parts are those it read, so its outcome is the model's.
      assert.equal(await store.setModelDefinitionChecked(acct, 'slow', { fullyDefined: true, onnx: { irVersion: 8 } }, put.stamp), true);
      assert.equal((await other.getTrainedModel(acct, 'slow'))?.fullyDefined, true);
      // The second, of the same parts, finds it fully defined and records nothing.
      assert.equal(await other.setModelDefinitionChecked(acct, 'slow', { fullyDefined: false, onnx: null, refusal: 'x' }, listed.stamp), false);
      assert.equal((await store.getTrainedModel(acct, 'slow'))?.fullyDefined, true);
    });

    it('claims are counted; once given up on, a definition is refused with its reason, and a part written again starts over', async () => {
      await store.createTrainedModel({ accountId: acct, modelId: 'crash', config: CONFIG, now: 1 });
      const put = await store.putModelPart(acct, 'crash', whole(4), at(20_000));
      assert.ok(put.ok);
      // Each check taken brings its process down: no outcome, and the next pass takes it again after the wait.
      let now = 20_000;
      for (let attempts = 0; attempts < 3; attempts++) {
        now += WAIT + 1;
        const m = (await mine(now - WAIT)).find((x) => x.modelId === 'crash');
        assert.deepEqual([m?.stamp, m?.attempts], [put.stamp, attempts]);
        assert.equal(await store.claimDefinitionCheck(acct, 'crash', put.stamp, attempts, now), true);
        assert.equal(await other.claimDefinitionCheck(acct, 'crash', put.stamp, attempts, now), false, 'taken once');
        assert.equal(
          (await mine(now - WAIT)).find((x) => x.modelId === 'crash'),
          undefined,
          'not again within the wait',
        );
      }
      now += WAIT + 1;
      assert.equal((await mine(now - WAIT)).find((x) => x.modelId === 'crash')?.attempts, 3);
      assert.equal(await store.giveUpDefinitionCheck(acct, 'crash', put.stamp, 2, 'never ended'), false, 'only at the attempts listed');
      assert.equal(await store.giveUpDefinitionCheck(acct, 'crash', put.stamp, 3, 'never ended'), true);
      assert.equal(await other.giveUpDefinitionCheck(acct, 'crash', put.stamp, 3, 'never ended'), false, 'once');
      const refused = await other.getTrainedModel(acct, 'crash');
      assert.deepEqual([refused?.fullyDefined, refused?.definitionRefusal], [false, 'never ended']);
      assert.equal(
        (await mine(now + WAIT)).find((x) => x.modelId === 'crash'),
        undefined,
        'not checked again',
      );
      assert.deepEqual(
        (await store.forgetIncompleteDefinitions(20_001)).filter((m) => m.accountId === acct).map((m) => m.modelId),
        ['crash'],
        'forgotten as any refused definition, incompleteDefinitionTtlMs after its last part',
      );
      // A part written again: no refusal, no claims, a new version.
      const again = await other.putModelPart(acct, 'crash', whole(5), at(now));
      assert.ok(again.ok);
      assert.notEqual(again.stamp.version, put.stamp.version);
      assert.equal((await store.getTrainedModel(acct, 'crash'))?.definitionRefusal, null);
      assert.deepEqual(
        (await mine(now + WAIT + 1)).find((x) => x.modelId === 'crash'),
        { accountId: acct, modelId: 'crash', totalParts: 1, stamp: again.stamp, attempts: 0 },
      );
    });

    it('a model deleted and created again under its id: the check of the first one records nothing on the second', async () => {
      await store.createTrainedModel({ accountId: acct, modelId: 'again', config: CONFIG, now: 1 });
      const old = await store.putModelPart(acct, 'again', whole(6), at(30_000));
      assert.ok(old.ok);
      assert.equal(await other.deleteTrainedModel(acct, 'again'), true);
      await other.createTrainedModel({ accountId: acct, modelId: 'again', config: CONFIG, now: 30_001 });
      const now = await other.putModelPart(acct, 'again', whole(7), at(30_002));
      assert.ok(now.ok);
      assert.equal(now.stamp.version, old.stamp.version, 'its version starts again');
      assert.equal(await store.setModelDefinitionChecked(acct, 'again', { fullyDefined: true, onnx: null }, old.stamp), false);
      assert.equal(await store.claimDefinitionCheck(acct, 'again', old.stamp, 0, 40_000), false, 'nor is it taken by a listing of the first');
      assert.equal((await other.getTrainedModel(acct, 'again'))?.fullyDefined, false);
    });

    it('after the upgrade (0037): a check under way across it records its outcome; one that never ended is taken again, its attempts from 0', async () => {
      const dir = await mkdtemp(join(tmpdir(), 'gantry-ml-upgrade-'));
      const d = ts.dialect(await ts.fresh(dir));
      const db = new Kysely<any>({ dialect: d.createKyselyDialect() });
      try {
        assert.equal((await new Migrator({ db, provider: migrations(d) }).migrateTo('0035_result_owner')).error, undefined);
        const owner = await db
          .insertInto('accounts')
          .values({ username: 'old', email: 'old@localhost', is_admin: 0, balance: 0, created_at: 1 })
          .returning('id')
          .executeTakeFirstOrThrow();
        // Whole definitions with no outcome: one whose check is under way, one whose check a crash cut short
        // and housekeeping took at 7,000 (the claim moved its parts' time then).
        for (const [model_id, parts_updated_at] of [
          ['under-way', 5_000],
          ['claimed', 7_000],
        ] as const) {
          const row = { account_id: owner.id, model_id, config_json: JSON.stringify(CONFIG), created_at: 1, total_parts: 1, total_definition_length: 4 };
          await db
            .insertInto('ml_models')
            .values({ ...row, fully_defined: 0, onnx_json: null, parts_updated_at })
            .execute();
          await db
            .insertInto('ml_model_parts')
            .values({ account_id: owner.id, model_id, part: 0, length: 4, bytes: Buffer.alloc(4, 1) })
            .execute();
        }
        const upgraded = new KyselyStore(d);
        try {
          await upgraded.migrate();
          const listed = async (before: number) => (await upgraded.uncheckedDefinitions(before)).filter((m) => m.accountId === owner.id);
          assert.deepEqual(await listed(7_000), [{ accountId: owner.id, modelId: 'under-way', totalParts: 1, stamp: { version: 0, at: 5_000 }, attempts: 0 }]);
          assert.deepEqual(
            (await listed(7_001)).map((m) => m.modelId),
            ['under-way', 'claimed'],
          );
          // The check under way read no version: its outcome, by the time of the parts it read.
          assert.equal(await upgraded.setModelDefinitionChecked(owner.id, 'under-way', { fullyDefined: true, onnx: null }, { version: 0, at: 5_000 }), true);
          assert.equal(await upgraded.claimDefinitionCheck(owner.id, 'claimed', { version: 0, at: 7_000 }, 0, 8_000), true);
          const m = await upgraded.getTrainedModel(owner.id, 'claimed');
          assert.deepEqual([m?.fullyDefined, m?.definitionRefusal], [false, null]);
        } finally {
          await upgraded.close();
        }
      } finally {
        await db.destroy();
        await rm(dir, { recursive: true, force: true });
      }
    });
  });
}
