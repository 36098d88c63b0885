import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { tinyClassifier, VOCABULARY } from '../fixtures/onnx/models.js';
import { gantry } from '../helpers/cli.js';
import { esRaw } from '../helpers/elastic.js';
import { startTestGantry, type TestGantry } from '../helpers/gantry.js';
import { ONE_STORE } from '../helpers/stores.js';

const MODEL = tinyClassifier();
const PART_BYTES = 256;

/** `gantry ml ...` run as a user runs it, against a loopback Gantry, with the model in files. */
for (const ts of ONE_STORE) {
  describe(`gantry ml verbs (${ts.name})`, { skip: ts.skip }, () => {
    let g: TestGantry;
    let env: NodeJS.ProcessEnv;
    let dir: string;
    let onnx: string;
    let vocab: string;
    const ml = (...args: string[]) => gantry(['ml', ...args], env, 120_000);
    const importArgs = (id: string, ...extra: string[]): string[] => [
      'import',
      id,
      '--onnx',
      onnx,
      '--vocab',
      vocab,
      '--task',
      'text_classification',
      '--labels',
      'neg,neu,pos',
      '--lower-case',
      ...extra,
    ];

    before(async () => {
      g = await startTestGantry(ts, { localHost: true });
      const u = await g.api('POST', '/api/v0/users/', { username: 'ml-cli', credit: 100 });
      env = { ...process.env, GANTRY_URL: g.url, GANTRY_API_KEY: u.body.api_key };
      dir = await mkdtemp(join(tmpdir(), 'gantry-ml-cli-'));
      onnx = join(dir, 'model.onnx');
      vocab = join(dir, 'vocab.txt');
      await writeFile(onnx, MODEL.bytes);
      // CRLF line ends, as a vocab.txt copied from Windows has them.
      await writeFile(vocab, VOCABULARY.join('\r\n') + '\r\n');
    });
    after(async () => {
      await g.dispose();
      await rm(dir, { recursive: true, force: true });
    });

    it('the ml group names its verbs', async () => {
      const r = await gantry(['ml', '--help'], env);
      assert.equal(r.code, 0, r.stderr);
      for (const verb of ['import', 'models', 'deployments', 'start', 'stop', 'infer', 'delete']) assert.ok(r.stdout.includes(verb), verb);
    });

    it('import sends the definition in parts and the vocabulary; models lists it fully defined', async () => {
      const parts = Math.ceil(MODEL.bytes.length / PART_BYTES);
      assert.ok(parts >= 3, `the fixture makes ${parts} parts`);
      const r = await ml(...importArgs('tiny', '--part-size', `${PART_BYTES}b`, '--description', 'a tiny classifier', '--max-sequence-length', '32'));
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout, `tiny: ${MODEL.bytes.length} bytes in ${parts} parts, ${VOCABULARY.length} tokens; fully defined: true\n`);

      const raw = await ml('models', 'tiny', '--raw');
      assert.equal(raw.code, 0, raw.stderr);
      const m = JSON.parse(raw.stdout).trained_model_configs[0];
      assert.equal(m.model_id, 'tiny');
      assert.equal(m.fully_defined, true);
      assert.equal(m.description, 'a tiny classifier');
      const cfg = m.inference_config.text_classification;
      assert.deepEqual(cfg.classification_labels, ['neg', 'neu', 'pos']);
      assert.equal(cfg.tokenization.bert.do_lower_case, true);
      assert.equal(cfg.tokenization.bert.max_sequence_length, 32);

      const list = await ml('models');
      assert.equal(list.code, 0, list.stderr);
      const [head, ...rows] = list.stdout.trimEnd().split('\n');
      assert.match(head ?? '', /^ID\s+Type\s+Task\s+Fully defined\s+Deployments$/);
      assert.equal(rows.length, 1, list.stdout);
      assert.match(rows[0] ?? '', /^tiny\s+onnx\s+text_classification\s+true\s+\S+$/);
    });

    it('bad input: a clear message and a non-zero exit, and nothing created', async () => {
      const missing = await ml('import', 'm1', '--onnx', join(dir, 'nope.onnx'), '--vocab', vocab, '--task', 'text_embedding');
      assert.notEqual(missing.code, 0);
      assert.match(missing.stderr, /^error: cannot read the ONNX file .*nope\.onnx/);

      const noVocab = await ml('import', 'm1', '--onnx', onnx, '--vocab', join(dir, 'nope.txt'), '--task', 'text_embedding');
      assert.notEqual(noVocab.code, 0);
      assert.match(noVocab.stderr, /^error: cannot read the vocabulary file/);

      const task = await ml('import', 'm1', '--onnx', onnx, '--vocab', vocab, '--task', 'ner');
      assert.notEqual(task.code, 0);
      assert.match(task.stderr, /^error: unknown task 'ner'; use one of text_classification, text_embedding, pass_through/);

      const labels = await ml('import', 'm1', '--onnx', onnx, '--vocab', vocab, '--task', 'text_embedding', '--labels', 'a,b');
      assert.notEqual(labels.code, 0);
      assert.match(labels.stderr, /--labels is for --task text_classification only/);

      const size = await ml(...importArgs('m1', '--part-size', 'lots'));
      assert.notEqual(size.code, 0);
      assert.match(size.stderr, /--part-size 'lots'/);
      assert.equal((await esRaw(g, 'GET', '/_ml/trained_models/m1')).status, 404, 'no half-made model is left');

      // The server's refusals print Elasticsearch's reason.
      const again = await ml(...importArgs('tiny'));
      assert.notEqual(again.code, 0);
      assert.match(again.stderr, /^error: .*tiny/);
      const unknown = await ml('models', 'no-such-model');
      assert.notEqual(unknown.code, 0);
      assert.match(unknown.stderr, /^error: .*no-such-model/);
    });

    it('a model that is not ONNX is refused at its last part, with the reason', async () => {
      const junk = join(dir, 'junk.onnx');
      await writeFile(junk, Buffer.alloc(700, 7));
      const r = await ml('import', 'junk', '--onnx', junk, '--vocab', vocab, '--task', 'text_embedding', '--part-size', '300b');
      assert.notEqual(r.code, 0);
      assert.match(r.stderr, /error: .+\n.*gantry ml delete junk/);
      const del = await ml('delete', 'junk');
      assert.equal(del.code, 0, del.stderr);
      assert.equal(del.stdout, 'junk: deleted\n');
    });

    it('start, infer, deployments, stop (when the deployment routes are there)', async (t) => {
      const probe = await esRaw(g, 'GET', '/_ml/trained_models/_stats');
      if (probe.status !== 200) {
        t.skip(`GET /_ml/trained_models/_stats answered ${probe.status}: this build has no deployment routes`);
        return;
      }
      const start = await ml('start', 'tiny', '--deployment-id', 'tiny-d', '--allocations', '1', '--wait-for', 'started', '--timeout', '90s');
      assert.equal(start.code, 0, start.stderr);
      assert.match(start.stdout, /^tiny-d: started, allocations \d+\/1\n$/);

      const inf = await ml('infer', 'tiny-d', 'the cat sat on the mat', 'great movie', '--raw');
      assert.equal(inf.code, 0, inf.stderr);
      const results = JSON.parse(inf.stdout).inference_results as { predicted_value: string }[];
      assert.equal(results.length, 2);
      for (const x of results) assert.ok(['neg', 'neu', 'pos'].includes(x.predicted_value), JSON.stringify(x));
      const table = await ml('infer', 'tiny-d', 'hello world');
      assert.equal(table.code, 0, table.stderr);
      assert.match(table.stdout, /^Text\s+Prediction\s+Probability\nhello world\s+(neg|neu|pos)\s+0\.\d+\n$/);

      const deps = await ml('deployments');
      assert.equal(deps.code, 0, deps.stderr);
      const [head, ...rows] = deps.stdout.trimEnd().split('\n');
      assert.match(head ?? '', /^Deployment\s+Model\s+State\s+Allocations\s+Inferences\s+Pending$/);
      assert.match(rows.find((l) => l.startsWith('tiny-d')) ?? '', /^tiny-d\s+tiny\s+started\s+1\/1\s+\d+\s+\d+$/);
      const models = await ml('models');
      assert.match(models.stdout, /tiny\s+onnx\s+text_classification\s+true\s+tiny-d/);

      const stop = await ml('stop', 'tiny-d', '--finish-pending-work');
      assert.equal(stop.code, 0, stop.stderr);
      assert.equal(stop.stdout, 'tiny-d: stopped\n');
      // Matching nothing is no error (allow_no_match), and says so.
      assert.equal((await ml('stop', 'tiny-d')).stdout, 'tiny-d: no deployment matched; nothing was stopped\n');
      const none = await ml('stop', 'tiny-d', '--allow-no-match', 'false');
      assert.notEqual(none.code, 0);
      assert.match(none.stderr, /^error: .*tiny-d/);
      const after = await ml('deployments', '--raw');
      assert.equal(after.code, 0, after.stderr);
      assert.ok(!after.stdout.includes('"tiny-d"'), after.stdout);
    });

    it("the README's walk-through with the example model (examples/sentiment): positive and negative texts", async (t) => {
      const probe = await esRaw(g, 'GET', '/_ml/trained_models/_stats');
      if (probe.status !== 200) {
        t.skip(`GET /_ml/trained_models/_stats answered ${probe.status}: this build has no deployment routes`);
        return;
      }
      const example = (name: string): string => fileURLToPath(new URL(`../../../examples/sentiment/${name}`, import.meta.url));
      const args = ['--onnx', example('model.onnx'), '--vocab', example('vocab.txt'), '--task', 'text_classification'];
      const imported = await ml('import', 'sentiment', ...args, '--labels', 'negative,positive', '--lower-case');
      assert.equal(imported.code, 0, imported.stderr);
      assert.match(imported.stdout, /^sentiment: \d+ bytes in 1 part, 44 tokens; fully defined: true\n$/);
      const start = await ml('start', 'sentiment', '--allocations', '1', '--wait-for', 'fully_allocated', '--timeout', '90s');
      assert.equal(start.code, 0, start.stderr);
      const inf = await ml('infer', 'sentiment', 'What a great day', 'a terrible, boring movie', '--raw');
      assert.equal(inf.code, 0, inf.stderr);
      const results = JSON.parse(inf.stdout).inference_results as { predicted_value: string }[];
      assert.deepEqual(
        results.map((r) => r.predicted_value),
        ['positive', 'negative'],
      );
      assert.equal((await ml('stop', 'sentiment', '--finish-pending-work')).stdout, 'sentiment: stopped\n');
    });
  });
}
