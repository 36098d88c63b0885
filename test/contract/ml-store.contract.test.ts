import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { GantryError } from '../../src/domain/errors.js';
import type { TrainedModelConfig } from '../../src/domain/ml/records.js';
import { KyselyStore } from '../../src/store/kysely/kysely-store.js';
import type { Store } from '../../src/store/store.js';
import { TEST_STORES } from '../helpers/stores.js';

const CONFIG: TrainedModelConfig = {
  modelType: 'onnx',
  description: 'd',
  tags: ['a', 'b'],
  metadata: { k: 1 },
  inferenceConfig: { text_embedding: {} },
  inputFieldNames: ['text_field'],
  declaredSizeBytes: 0,
};

const bytes = (n: number, fill: number): Uint8Array => new Uint8Array(n).fill(fill);
/** A part stored at time 1, with no bound on the account's bytes. */
const AT = { now: 1, maxAccountBytes: 0 };

/** The ML part of the store port (trained models, definition parts, vocabularies, pipelines), one behaviour for every adapter. */
for (const ts of TEST_STORES) {
  describe(`ml store contract: ${ts.name}`, { skip: ts.skip }, () => {
    let dir: string;
    let store: Store;
    let other: Store;
    let acct: number;
    let acct2: number;

    before(async () => {
      dir = await mkdtemp(join(tmpdir(), 'gantry-ml-store-'));
      const location = await ts.fresh(dir);
      store = new KyselyStore(ts.dialect(location));
      await store.migrate();
      // A second handle on the same database: another replica.
      other = new KyselyStore(ts.dialect(location));
      acct = (await store.createAccount({ username: 'u', email: 'u@x', isAdmin: false, now: 1 })).id;
      acct2 = (await store.createAccount({ username: 'v', email: 'v@x', isAdmin: false, now: 1 })).id;
    });
    after(async () => {
      await other.close();
      await store.close();
      await rm(dir, { recursive: true, force: true });
    });

    it('creates models per account; a second one of the same id is MODEL_EXISTS', async () => {
      const m = await store.createTrainedModel({ accountId: acct, modelId: 'm1', config: CONFIG, now: 5 });
      assert.equal(m.fullyDefined, false);
      assert.equal(m.totalParts, null);
      await assert.rejects(
        other.createTrainedModel({ accountId: acct, modelId: 'm1', config: CONFIG, now: 6 }),
        (e: unknown) => e instanceof GantryError && e.code === 'MODEL_EXISTS',
      );
      await store.createTrainedModel({ accountId: acct2, modelId: 'm1', config: CONFIG, now: 7 });
      const got = await other.getTrainedModel(acct, 'm1');
      assert.deepEqual(got?.tags, ['a', 'b']);
      assert.deepEqual(got?.metadata, { k: 1 });
      assert.equal(got?.createdAt, 5);
      await store.createTrainedModel({ accountId: acct, modelId: 'a0', config: CONFIG, now: 8 });
      assert.deepEqual(
        (await store.listTrainedModels(acct)).map((x) => x.modelId),
        ['a0', 'm1'],
      );
      assert.equal(await store.getTrainedModel(acct, 'nope'), undefined);
    });

    it('takes parts in any order across replicas, replaces a repeated one, and refuses other totals', async () => {
      await store.createTrainedModel({ accountId: acct, modelId: 'parts', config: CONFIG, now: 1 });
      const totals = { totalParts: 3, totalDefinitionLength: 10 };
      const r2 = await store.putModelPart(acct, 'parts', { index: 2, ...totals, bytes: bytes(2, 9) }, AT);
      // Every write moves the parts' version, within one millisecond too, on any replica.
      assert.deepEqual(r2, { ok: true, progress: { parts: 1, bytes: 2 }, stamp: { version: 1, at: 1 } });
      const r0 = await other.putModelPart(acct, 'parts', { index: 0, ...totals, bytes: bytes(5, 1) }, AT);
      assert.deepEqual(r0, { ok: true, progress: { parts: 2, bytes: 7 }, stamp: { version: 2, at: 1 } });
      // The same index again replaces the bytes.
      const again = await store.putModelPart(acct, 'parts', { index: 0, ...totals, bytes: bytes(4, 3) }, AT);
      assert.deepEqual(again, { ok: true, progress: { parts: 2, bytes: 6 }, stamp: { version: 3, at: 1 } });
      assert.deepEqual(await store.putModelPart(acct, 'parts', { index: 1, totalParts: 4, totalDefinitionLength: 10, bytes: bytes(1, 0) }, AT), {
        ok: false,
        reason: 'totals-differ',
      });
      assert.deepEqual(await store.putModelPart(acct, 'nope', { index: 0, ...totals, bytes: bytes(1, 0) }, AT), { ok: false, reason: 'no-model' });
      const r1 = await other.putModelPart(acct, 'parts', { index: 1, ...totals, bytes: bytes(4, 2) }, AT);
      assert.deepEqual(r1, { ok: true, progress: { parts: 3, bytes: 10 }, stamp: { version: 4, at: 1 } }, 'refused parts moved nothing');
      // Bytes come back exactly (blob / bytea), one part per read.
      assert.deepEqual([...((await store.readModelPart(acct, 'parts', 0)) ?? [])], [3, 3, 3, 3]);
      assert.deepEqual([...((await other.readModelPart(acct, 'parts', 2)) ?? [])], [9, 9]);
      assert.equal(await store.readModelPart(acct, 'parts', 3), undefined);
      const m = await store.getTrainedModel(acct, 'parts');
      assert.equal(m?.totalParts, 3);
      assert.equal(m?.totalDefinitionLength, 10);
    });

    it('two replicas storing the last two parts at once: one of them sees every part', async () => {
      await store.createTrainedModel({ accountId: acct, modelId: 'race', config: CONFIG, now: 1 });
      const totals = { totalParts: 2, totalDefinitionLength: 6 };
      // SQLite serves one process: two handles in one process would wait on each other's write lock
      // on the one thread, so there the race runs on one handle (its transactions queue).
      const second = ts.name === 'sqlite' ? store : other;
      const [a, b] = await Promise.all([
        store.putModelPart(acct, 'race', { index: 0, ...totals, bytes: bytes(3, 1) }, AT),
        second.putModelPart(acct, 'race', { index: 1, ...totals, bytes: bytes(3, 2) }, AT),
      ]);
      assert.ok(a.ok && b.ok);
      assert.equal(Math.max(a.progress.parts, b.progress.parts), 2);
    });

    it('records the checked definition; a fully defined one takes no part, not even its own again; a refused one takes a corrected part', async () => {
      await store.setModelDefinitionChecked(acct, 'parts', { fullyDefined: true, onnx: { irVersion: 8 } });
      const m = await other.getTrainedModel(acct, 'parts');
      assert.equal(m?.fullyDefined, true);
      assert.deepEqual(m?.onnx, { irVersion: 8 });
      const same = { index: 1, totalParts: 3, totalDefinitionLength: 10, bytes: bytes(4, 5) };
      for (const [p, o] of [
        [same, AT],
        [same, { now: 2, maxAccountBytes: 1_000 }],
        [{ ...same, totalParts: 4 }, AT],
      ] as const)
        assert.deepEqual(await other.putModelPart(acct, 'parts', p, o), { ok: false, reason: 'defined' });
      const kept = await store.getTrainedModel(acct, 'parts');
      assert.equal(kept?.fullyDefined, true);
      assert.deepEqual(kept?.onnx, { irVersion: 8 });
      assert.deepEqual([...((await store.readModelPart(acct, 'parts', 1)) ?? [])], [2, 2, 2, 2], 'the part is not replaced');
      assert.deepEqual(
        (await store.uncheckedDefinitions(Number.MAX_SAFE_INTEGER)).filter((x) => x.accountId === acct && x.modelId === 'parts'),
        [],
        'nor marked unchecked',
      );
      // Refused by its check: a part replaces the bytes, and the whole waits for its check again.
      await store.setModelDefinitionChecked(acct, 'parts', { fullyDefined: false, onnx: null });
      assert.deepEqual(await store.putModelPart(acct, 'parts', same, AT), { ok: true, progress: { parts: 3, bytes: 10 }, stamp: { version: 5, at: 1 } });
      const after = await store.getTrainedModel(acct, 'parts');
      assert.equal(after?.fullyDefined, false);
      assert.equal(after?.onnx, null);
      assert.deepEqual([...((await other.readModelPart(acct, 'parts', 1)) ?? [])], [5, 5, 5, 5]);
    });

    it('keeps one vocabulary per model; none for a model that does not exist', async () => {
      assert.equal(await store.putVocabulary(acct, 'parts', { vocabulary: ['[PAD]', 'a'], merges: null, scores: null }), true);
      assert.equal(await other.putVocabulary(acct, 'parts', { vocabulary: ['[PAD]', 'b', 'c'], merges: ['b c'], scores: [0, 1, 2] }), true);
      assert.deepEqual(await store.getVocabulary(acct, 'parts'), { vocabulary: ['[PAD]', 'b', 'c'], merges: ['b c'], scores: [0, 1, 2] });
      assert.equal(await store.putVocabulary(acct, 'nope', { vocabulary: ['x'], merges: null, scores: null }), false);
      assert.equal(await store.getVocabulary(acct2, 'parts'), undefined);
    });

    it('deletes a model with its parts and vocabulary', async () => {
      assert.equal(await store.deleteTrainedModel(acct, 'parts'), true);
      assert.equal(await store.getTrainedModel(acct, 'parts'), undefined);
      assert.equal(await store.readModelPart(acct, 'parts', 0), undefined);
      assert.equal(await store.getVocabulary(acct, 'parts'), undefined);
      assert.equal(await store.deleteTrainedModel(acct, 'parts'), false);
      // A model of the same id starts from nothing.
      await store.createTrainedModel({ accountId: acct, modelId: 'parts', config: CONFIG, now: 9 });
      assert.deepEqual(await store.putModelPart(acct, 'parts', { index: 0, totalParts: 1, totalDefinitionLength: 1, bytes: bytes(1, 1) }, AT), {
        ok: true,
        progress: { parts: 1, bytes: 1 },
        stamp: { version: 1, at: 1 },
      });
    });

    it('of deletes of one model racing on two replicas, exactly one removes it (the others answer false)', async () => {
      await store.createTrainedModel({ accountId: acct, modelId: 'raced.v1', config: CONFIG, now: 1 });
      await store.putModelPart(acct, 'raced.v1', { index: 0, totalParts: 1, totalDefinitionLength: 2, bytes: bytes(2, 7) }, AT);
      // As above: on SQLite (one process per file) the race runs on one handle, its transactions queueing.
      const second = ts.name === 'sqlite' ? store : other;
      const handles = [store, second, store, second, store, second];
      const results = await Promise.all(handles.map((h) => h.deleteTrainedModel(acct, 'raced.v1')));
      assert.equal(results.filter((r) => r).length, 1, JSON.stringify(results));
      assert.equal(await other.getTrainedModel(acct, 'raced.v1'), undefined);
      assert.equal(await store.readModelPart(acct, 'raced.v1', 0), undefined);
    });

    it("bounds the bytes of all one account's parts: a part past maxAccountBytes is refused and not stored; a part sent again counts once", async () => {
      const a = (await store.createAccount({ username: 'bytes', email: 'bytes@x', isAdmin: false, now: 1 })).id;
      const b = (await store.createAccount({ username: 'bytes2', email: 'bytes2@x', isAdmin: false, now: 1 })).id;
      for (const id of ['b1', 'b2']) await store.createTrainedModel({ accountId: a, modelId: id, config: CONFIG, now: 1 });
      await store.createTrainedModel({ accountId: b, modelId: 'b1', config: CONFIG, now: 1 });
      const cap = { now: 1, maxAccountBytes: 10 };
      const totals = (length: number) => ({ totalParts: 3, totalDefinitionLength: length });
      assert.equal((await store.putModelPart(a, 'b1', { index: 0, ...totals(9), bytes: bytes(6, 1) }, cap)).ok, true);
      assert.deepEqual(await other.putModelPart(a, 'b2', { index: 0, ...totals(5), bytes: bytes(5, 2) }, cap), {
        ok: false,
        reason: 'over-limit',
        heldBytes: 6,
      });
      assert.equal(await store.readModelPart(a, 'b2', 0), undefined, 'not stored');
      assert.equal((await store.getTrainedModel(a, 'b2'))?.totalParts, null, 'the refused part fixed no totals');
      // Part 0 again, bigger: it replaces the 6 bytes, so 9 are held, not 15.
      assert.deepEqual(await store.putModelPart(a, 'b1', { index: 0, ...totals(9), bytes: bytes(9, 3) }, cap), {
        ok: true,
        progress: { parts: 1, bytes: 9 },
        stamp: { version: 2, at: 1 },
      });
      assert.equal((await other.putModelPart(a, 'b2', { index: 1, ...totals(1), bytes: bytes(1, 4) }, cap)).ok, true, 'exactly 10');
      assert.equal((await store.putModelPart(a, 'b2', { index: 2, ...totals(1), bytes: bytes(1, 4) }, cap)).ok, false);
      assert.equal((await store.putModelPart(b, 'b1', { index: 0, ...totals(10), bytes: bytes(10, 5) }, cap)).ok, true, 'each account has its own bound');
      // A definition declared past the bound is refused at its first part, however small.
      const c = (await store.createAccount({ username: 'bytes-declared', email: 'bytes-declared@x', isAdmin: false, now: 1 })).id;
      await store.createTrainedModel({ accountId: c, modelId: 'big', config: CONFIG, now: 1 });
      assert.deepEqual(await store.putModelPart(c, 'big', { index: 0, ...totals(11), bytes: bytes(1, 6) }, cap), {
        ok: false,
        reason: 'over-limit',
        heldBytes: 0,
      });
      assert.deepEqual(await store.putModelPart(a, 'nope', { index: 0, ...totals(1), bytes: bytes(1, 0) }, cap), { ok: false, reason: 'no-model' });
    });

    it('parts of one account racing on two replicas never pass its bound together', async () => {
      const a = (await store.createAccount({ username: 'bytes3', email: 'bytes3@x', isAdmin: false, now: 1 })).id;
      for (const id of ['r1', 'r2']) await store.createTrainedModel({ accountId: a, modelId: id, config: CONFIG, now: 1 });
      const cap = { now: 1, maxAccountBytes: 10 };
      // Declared as 6 in all (the store holds what is sent whatever is declared): each part alone fits, any two do not.
      const totals = { totalParts: 2, totalDefinitionLength: 6 };
      // As above: on SQLite (one process per file) the race runs on one handle, its transactions queueing.
      const second = ts.name === 'sqlite' ? store : other;
      const results = await Promise.all([
        store.putModelPart(a, 'r1', { index: 0, ...totals, bytes: bytes(6, 1) }, cap),
        second.putModelPart(a, 'r2', { index: 0, ...totals, bytes: bytes(6, 2) }, cap),
        store.putModelPart(a, 'r2', { index: 1, ...totals, bytes: bytes(6, 2) }, cap),
        second.putModelPart(a, 'r1', { index: 1, ...totals, bytes: bytes(6, 1) }, cap),
      ]);
      assert.equal(results.filter((r) => r.ok).length, 1, JSON.stringify(results));
    });

    it('forgets the parts of definitions not fully defined that got no part since `before`; the model stays and starts again', async () => {
      const a = (await store.createAccount({ username: 'forget', email: 'forget@x', isAdmin: false, now: 1 })).id;
      for (const id of ['f-old', 'f-new', 'f-done', 'f-none']) await store.createTrainedModel({ accountId: a, modelId: id, config: CONFIG, now: 1 });
      const totals = { totalParts: 2, totalDefinitionLength: 8 };
      const at = (now: number) => ({ now, maxAccountBytes: 0 });
      await store.putModelPart(a, 'f-old', { index: 0, ...totals, bytes: bytes(4, 1) }, at(100));
      await store.putModelPart(a, 'f-new', { index: 0, ...totals, bytes: bytes(4, 1) }, at(300));
      await store.putModelPart(a, 'f-done', { index: 0, totalParts: 1, totalDefinitionLength: 4, bytes: bytes(4, 1) }, at(100));
      await store.setModelDefinitionChecked(a, 'f-done', { fullyDefined: true, onnx: { irVersion: 8 } });
      // Other accounts' models of the tests above are forgotten too (their parts came at time 1): only this account's are looked at.
      // All parts there: refused by the check, with lengths that do not add up, or with no outcome of its check.
      for (const id of ['f-refused', 'f-short', 'f-unchecked']) {
        await store.createTrainedModel({ accountId: a, modelId: id, config: CONFIG, now: 1 });
        await store.putModelPart(a, id, { index: 0, ...totals, bytes: bytes(4, 1) }, at(110));
        await store.putModelPart(a, id, { index: 1, ...totals, bytes: bytes(id === 'f-short' ? 3 : 4, 1) }, at(120));
      }
      await store.setModelDefinitionChecked(a, 'f-refused', { fullyDefined: false, onnx: null });
      const forgotten = (await other.forgetIncompleteDefinitions(200)).filter((m) => m.accountId === a);
      // Ordered by when their last part came: f-refused and f-short tie, so the ids are compared as a set.
      assert.deepEqual(forgotten.map((m) => m.modelId).sort(), ['f-old', 'f-refused', 'f-short']);
      assert.equal((await store.readModelPart(a, 'f-unchecked', 1))?.length, 4, 'a whole set whose check never ended is kept');
      // Two parts written: its parts' version is 2.
      const stamp = { version: 2, at: 120 };
      assert.deepEqual(
        (await other.uncheckedDefinitions(200)).filter((m) => m.accountId === a),
        [{ accountId: a, modelId: 'f-unchecked', totalParts: 2, stamp, attempts: 0 }],
        'and found to be checked again',
      );
      assert.deepEqual(
        (await other.uncheckedDefinitions(120)).filter((m) => m.accountId === a),
        [],
        'once no part came since `before`',
      );
      // Taken for a check once: by the first pass only, its claim counted; the parts' stamp stays.
      assert.equal(await store.claimDefinitionCheck(a, 'f-unchecked', { version: 1, at: 110 }, 0, 150), false, 'a part came since');
      assert.equal(await store.claimDefinitionCheck(a, 'f-unchecked', stamp, 0, 150), true);
      assert.equal(await other.claimDefinitionCheck(a, 'f-unchecked', stamp, 0, 151), false, 'taken already');
      assert.deepEqual(
        (await other.uncheckedDefinitions(150)).filter((m) => m.accountId === a),
        [],
      );
      assert.deepEqual(
        (await other.uncheckedDefinitions(151)).filter((m) => m.accountId === a),
        [{ accountId: a, modelId: 'f-unchecked', totalParts: 2, stamp, attempts: 1 }],
        'a wait after the claim',
      );
      // An outcome is written only for the parts it read: not over parts written since.
      assert.equal(await store.setModelDefinitionChecked(a, 'f-unchecked', { fullyDefined: true, onnx: null }, { version: 1, at: 110 }), false);
      assert.equal((await store.getTrainedModel(a, 'f-unchecked'))?.fullyDefined, false);
      assert.equal(await store.setModelDefinitionChecked(a, 'f-unchecked', { fullyDefined: false, onnx: null, refusal: 'not ONNX' }, stamp), true);
      assert.equal((await other.getTrainedModel(a, 'f-unchecked'))?.definitionRefusal, 'not ONNX', 'the reason is kept for the owner');
      // Over a refusal of the same parts, a check's outcome is (the same bytes scan the same); over fully defined, none.
      assert.equal(await other.setModelDefinitionChecked(a, 'f-unchecked', { fullyDefined: true, onnx: { irVersion: 8 } }, stamp), true);
      assert.equal(await store.setModelDefinitionChecked(a, 'f-unchecked', { fullyDefined: false, onnx: null }, stamp), false, 'fully defined already');
      const defined = await store.getTrainedModel(a, 'f-unchecked');
      assert.deepEqual([defined?.fullyDefined, defined?.definitionRefusal], [true, null]);
      await store.setModelDefinitionChecked(a, 'f-unchecked', { fullyDefined: true, onnx: { irVersion: 8 } });
      assert.deepEqual(
        (await other.uncheckedDefinitions(200)).filter((m) => m.accountId === a),
        [],
      );
      assert.equal(await store.readModelPart(a, 'f-old', 0), undefined);
      const old = await store.getTrainedModel(a, 'f-old');
      assert.deepEqual([old?.totalParts, old?.totalDefinitionLength, old?.fullyDefined], [null, null, false]);
      assert.equal((await store.readModelPart(a, 'f-new', 0))?.length, 4, 'a part since `before` keeps it');
      assert.equal((await store.readModelPart(a, 'f-done', 0))?.length, 4, 'a fully defined model keeps its parts');
      assert.equal((await store.getTrainedModel(a, 'f-none'))?.totalParts, null);
      // Its upload starts again, with other totals.
      assert.deepEqual(await store.putModelPart(a, 'f-old', { index: 0, totalParts: 1, totalDefinitionLength: 3, bytes: bytes(3, 2) }, at(1_000)), {
        ok: true,
        progress: { parts: 1, bytes: 3 },
        // Its first part, its parts forgotten, this part.
        stamp: { version: 3, at: 1_000 },
      });
      assert.deepEqual(
        (await store.forgetIncompleteDefinitions(200)).filter((m) => m.accountId === a),
        [],
      );
      assert.deepEqual(
        (await store.forgetIncompleteDefinitions(1_001)).filter((m) => m.accountId === a).map((m) => m.modelId),
        ['f-new'],
        'f-old is whole again, unchecked',
      );
      assert.deepEqual(
        (await store.uncheckedDefinitions(1_001)).filter((m) => m.accountId === a).map((m) => m.modelId),
        ['f-old'],
      );
    });

    it('points an alias at one model: created, exists, taken unless reassigned; per account; deleted with its model', async () => {
      await store.createTrainedModel({ accountId: acct, modelId: 'al-a', config: CONFIG, now: 1 });
      await store.createTrainedModel({ accountId: acct, modelId: 'al-b', config: CONFIG, now: 1 });
      assert.equal(await store.putModelAlias(acct, 'x', 'al-a', false, 2), 'created');
      assert.equal(await other.putModelAlias(acct, 'x', 'al-a', false, 3), 'exists');
      assert.equal(await other.putModelAlias(acct, 'x', 'al-b', false, 3), 'taken');
      assert.equal(await store.putModelAlias(acct2, 'x', 'm1', false, 3), 'created', 'aliases are per account');
      assert.deepEqual(await store.listModelAliases(acct), [{ alias: 'x', modelId: 'al-a' }]);
      assert.equal(await other.putModelAlias(acct, 'x', 'al-b', true, 4), 'created');
      assert.equal(await store.putModelAlias(acct, 'y', 'al-a', false, 4), 'created');
      assert.deepEqual(await store.listModelAliases(acct), [
        { alias: 'x', modelId: 'al-b' },
        { alias: 'y', modelId: 'al-a' },
      ]);
      assert.equal(await store.deleteModelAlias(acct, 'x', 'al-a'), false, 'x points at al-b now');
      assert.equal(await other.deleteModelAlias(acct, 'x', 'al-b'), true);
      assert.equal(await store.deleteModelAlias(acct, 'x', 'al-b'), false);
      assert.equal(await store.deleteTrainedModel(acct, 'al-a'), true);
      assert.deepEqual(await store.listModelAliases(acct), [], "the model's aliases go with it");
      assert.deepEqual(await store.listModelAliases(acct2), [{ alias: 'x', modelId: 'm1' }]);
      await store.deleteModelAlias(acct2, 'x', 'm1');
      await store.deleteTrainedModel(acct, 'al-b');
    });

    it('stores pipelines per account; a PUT replaces the body and keeps createdAt', async () => {
      const body = { description: 'x', processors: [{ inference: { model_id: 'm1' } }] };
      const p = await store.putPipeline(acct, 'p1', body, 10);
      assert.deepEqual(p, { accountId: acct, id: 'p1', body, createdAt: 10, updatedAt: 10 });
      const p2 = await other.putPipeline(acct, 'p1', { processors: [] }, 20);
      assert.equal(p2.createdAt, 10);
      assert.equal(p2.updatedAt, 20);
      assert.deepEqual(p2.body, { processors: [] });
      await store.putPipeline(acct, 'a1', body, 30);
      await store.putPipeline(acct2, 'z1', body, 30);
      assert.deepEqual(
        (await store.listPipelines(acct)).map((x) => x.id),
        ['a1', 'p1'],
      );
      assert.equal(await store.getPipeline(acct2, 'p1'), undefined);
      assert.equal(await store.deletePipelines(acct, ['a1', 'p1', 'nope']), 2);
      assert.deepEqual(await store.listPipelines(acct), []);
      assert.equal((await store.listPipelines(acct2)).length, 1);
    });
  });
}
