import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { tokenize, Vocabulary, parseTokenization } from '../../src/domain/ml/tokenizer.js';
import { Readable } from 'node:stream';
import { GantryError } from '../../src/domain/errors.js';
import { Abort } from '../../src/gateway/abort.js';
import { WorkerPools } from '../../src/gateway/proxy.js';
import { RouteSigner } from '../../src/gateway/signing.js';
import { referenceClassify, referenceEmbed, tinyClassifier, tinyEmbedder, type TinyModel } from '../fixtures/onnx/models.js';
import { freePort, GANTRY_BIN } from '../helpers/cli.js';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** The workers' working folder, as an instance's disk is theirs: they keep their temporary files in its .tmp (not the repository's). */
const WORK = mkdtempSync(join(tmpdir(), 'gantry-inference-worker-'));
process.on('exit', () => rmSync(WORK, { recursive: true, force: true }));

/**
 * `gantry inference-worker` as the engine runs it: a real process that fetches its model from a
 * control plane, here a loopback stand-in answering the two model routes of the contract, /pubkey/
 * and /worker_status/, and serves requests signed as the gateway signs them.
 */

const TOKEN = 'worker-secret';
const LABELS = ['negative', 'neutral', 'positive'];
const classifier = tinyClassifier({ labels: 3, hidden: 8, seed: 21 });
const embedder = tinyEmbedder({ hidden: 6, seed: 22, withTokenTypes: true });
const lower = parseTokenization({ bert: { do_lower_case: true } });

interface Served {
  readonly model: TinyModel;
  readonly meta: Record<string, unknown>;
}
/** Worker id → the model it serves. */
const MODELS: Record<string, Served> = {
  '1': {
    model: classifier,
    meta: {
      model_id: 'sentiment',
      inference_config: { text_classification: { classification_labels: LABELS, num_top_classes: -1, tokenization: { bert: { do_lower_case: true } } } },
      input: { field_names: ['text_field'] },
      vocabulary: classifier.vocabulary,
    },
  },
  '2': {
    model: embedder,
    meta: {
      model_id: 'embed',
      inference_config: { text_embedding: { tokenization: { bert: { do_lower_case: true, max_sequence_length: 8, truncate: 'none' } } } },
      input: { field_names: ['body'] },
      vocabulary: embedder.vocabulary,
    },
  },
};
MODELS['3'] = MODELS['1'] as Served;
MODELS['4'] = MODELS['1'] as Served;

interface Report {
  readonly id: number;
  readonly url: string;
  readonly loaded: boolean;
  readonly mtoken: string;
}

let server: Server;
let addr = '';
let signer: RouteSigner;
const reports: Report[] = [];
let refusals = 2;
const children: ChildProcess[] = [];

before(async () => {
  signer = await RouteSigner.load({ getSetting: async () => null, getOrPutSetting: async (_k, v) => v });
  server = createServer((req, res) => {
    const parts: Buffer[] = [];
    req.on('data', (c: Buffer) => parts.push(c));
    req.on('end', () => {
      const url = req.url ?? '';
      if (url === '/pubkey/') return void res.end(signer.publicKeyPem);
      if (url === '/worker_status/') {
        reports.push(JSON.parse(Buffer.concat(parts).toString('utf8')) as Report);
        return void res.end('{}');
      }
      const served = MODELS[String(req.headers['x-gantry-worker-id'])];
      if (served === undefined || req.headers['x-gantry-worker-token'] !== TOKEN) {
        res.writeHead(401);
        return void res.end('{"error":"bad worker credentials"}');
      }
      // The control plane is "not ready" for the first calls: the worker must retry.
      if (refusals-- > 0) {
        res.writeHead(503);
        return void res.end('starting');
      }
      if (url === '/_ml/_gantry/worker/model') {
        res.writeHead(200, { 'content-type': 'application/json' });
        return void res.end(JSON.stringify(served.meta));
      }
      if (url === '/_ml/_gantry/worker/model/definition') {
        res.writeHead(200, { 'content-type': 'application/octet-stream' });
        const b = Buffer.from(served.model.bytes);
        for (let at = 0; at < b.length; at += 333) res.write(b.subarray(at, at + 333));
        return void res.end();
      }
      res.writeHead(404);
      res.end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  addr = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

after(async () => {
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
  await new Promise((r) => server.close(r));
});

interface Worker {
  readonly child: ChildProcess;
  readonly url: string;
  readonly exited: Promise<number | null>;
  stderr: string;
}

async function startWorker(id: string, extraEnv: Record<string, string> = {}): Promise<Worker> {
  const port = await freePort();
  const env = {
    PATH: process.env.PATH,
    REPORT_ADDR: addr,
    MASTER_TOKEN: TOKEN,
    CONTAINER_ID: id,
    WORKER_PORT: String(port),
    GANTRY_LOG_LEVEL: 'warn',
    ...extraEnv,
  };
  const child = spawn(process.execPath, [GANTRY_BIN, 'inference-worker'], { env, cwd: WORK, stdio: ['ignore', 'ignore', 'pipe'] });
  children.push(child);
  const w: Worker = { child, url: `http://127.0.0.1:${port}`, exited: new Promise((r) => child.on('exit', (code) => r(code))), stderr: '' };
  child.stderr?.on('data', (c: Buffer) => (w.stderr += c.toString('utf8')));
  const deadline = Date.now() + 60_000;
  while (!reports.some((r) => r.id === Number(id) && r.loaded)) {
    if (child.exitCode !== null) throw new Error(`worker ${id} exited ${child.exitCode}: ${w.stderr}`);
    if (Date.now() > deadline) throw new Error(`worker ${id} never reported loaded: ${w.stderr}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  return w;
}

async function infer(w: Worker, body: unknown, signed = true): Promise<{ status: number; json: Record<string, unknown> }> {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (signed) Object.assign(headers, { 'x-gantry-url': w.url, 'x-gantry-signature': signer.sign(w.url), 'x-gantry-reqnum': '1' });
  const res = await fetch(`${w.url}/infer`, { method: 'POST', headers, body: JSON.stringify(body) });
  return { status: res.status, json: (await res.json()) as Record<string, unknown> };
}

const ids = (m: TinyModel, text: string): number[] => tokenize(text, new Vocabulary(m.vocabulary), lower).inputIds;
const near = (a: number, b: number | undefined, what: string): void => assert.ok(Math.abs(a - (b ?? NaN)) <= 1e-5, `${what}: ${a} vs ${b}`);

describe('gantry inference-worker', { timeout: 180_000 }, () => {
  it('fetches its model (retrying while the control plane is not ready), reports loaded, and classifies to the reference', async () => {
    const w = await startWorker('1');
    const loaded = reports.find((r) => r.id === 1 && r.loaded);
    assert.equal(loaded?.mtoken, TOKEN);
    const texts = ['I love this movie!', 'the cat sat on the mat, playing with a dog.', 'terrible'];
    const r = await infer(w, { docs: texts.map((t) => ({ text_field: t })) });
    assert.equal(r.status, 200, JSON.stringify(r.json));
    const results = r.json.inference_results as {
      predicted_value: string;
      prediction_probability: number;
      top_classes: { class_name: string; class_probability: number }[];
    }[];
    assert.equal(results.length, 3);
    texts.forEach((t, i) => {
      const x = ids(classifier, t);
      const ref = referenceClassify(
        classifier,
        x,
        x.map(() => 1),
      ).probabilities;
      const best = ref.indexOf(Math.max(...ref));
      const got = results[i];
      assert.ok(got);
      assert.equal(got.predicted_value, LABELS[best]);
      near(got.prediction_probability, ref[best], `${t} probability`);
      assert.equal(got.top_classes.length, 3);
      for (const c of got.top_classes) near(c.class_probability, ref[LABELS.indexOf(c.class_name)], `${t} ${c.class_name}`);
    });
    // An override per request: only the best class.
    const one = await infer(w, { docs: [{ text_field: texts[0] }], inference_config: { text_classification: { num_top_classes: 1 } } });
    assert.equal((one.json.inference_results as { top_classes: unknown[] }[])[0]?.top_classes.length, 1);
    // A document without the input field, an unsigned request.
    const bad = await infer(w, { docs: [{ text: 'x' }] });
    assert.equal(bad.status, 400);
    assert.deepEqual(bad.json, {
      error: { type: 'status_exception', reason: 'Input field [text_field] does not exist in the request', code: 'INPUT_FIELD_MISSING' },
    });
    assert.equal((await infer(w, { docs: [{ text_field: 'x' }] }, false)).status, 401);
    assert.equal((await infer(w, { docs: [] })).status, 400);
    w.child.kill('SIGTERM');
    assert.equal(await w.exited, 0);
  });

  it('embeds with mean pooling over the mask (token types fed), and refuses a text too long with truncate none', async () => {
    const w = await startWorker('2', { GANTRY_THREADS: '2' });
    const texts = ['hello world', 'this movie is great'];
    const r = await infer(w, { docs: texts.map((t) => ({ body: t })) });
    assert.equal(r.status, 200, JSON.stringify(r.json));
    const results = r.json.inference_results as { predicted_value: number[] }[];
    texts.forEach((t, i) => {
      const x = ids(embedder, t);
      const ref = referenceEmbed(
        embedder,
        x,
        x.map(() => 1),
      );
      results[i]?.predicted_value.forEach((v, j) => near(v, ref[j], `${t}[${j}]`));
    });
    const long = await infer(w, { docs: [{ body: 'the cat sat on the mat, the dog sat on the cat' }] });
    assert.equal(long.status, 400);
    assert.match(
      (long.json.error as { reason: string }).reason,
      /^Input too large\. The tokenized input length \[\d+\] exceeds the maximum sequence length \[8\]$/,
    );
    w.child.kill('SIGTERM');
    assert.equal(await w.exited, 0);
  });

  it('on SIGTERM finishes the request in flight, then exits', async () => {
    const w = await startWorker('3', { GANTRY_INFERENCE_DELAY_MS: '1500' });
    const pending = infer(w, { docs: [{ text_field: 'good movie' }] });
    await new Promise((r) => setTimeout(r, 400));
    w.child.kill('SIGTERM');
    const r = await pending;
    assert.equal(r.status, 200);
    assert.equal((r.json.inference_results as unknown[]).length, 1);
    assert.equal(await w.exited, 0);
    assert.ok(
      reports.some((x) => x.id === 3 && !x.loaded),
      'a last report says it is no longer loaded',
    );
  });

  it('on SIGTERM after a request the gateway gave up (its deadline passed), exits by itself, not by the kill', async () => {
    const w = await startWorker('4', { GANTRY_INFERENCE_DELAY_MS: '1500' });
    // The gateway's own path: `_infer?timeout=` aborts the request at the worker when its deadline passes.
    const pools = new WorkerPools({ requestTimeoutMs: 30_000 });
    const signal = new Abort();
    const body = JSON.stringify({ docs: [{ text_field: 'good movie' }] });
    const sent = pools.forward(w.url, {
      method: 'POST',
      path: '/infer',
      headers: { 'content-type': 'application/json' },
      body: Readable.from([Buffer.from(body)]),
      contentLength: String(body.length),
      extra: { 'x-gantry-url': w.url, 'x-gantry-signature': signer.sign(w.url), 'x-gantry-reqnum': '7' },
      signal,
    });
    setTimeout(() => signal.abort(new GantryError('INFERENCE_TIMEOUT', 'deadline')), 300);
    await assert.rejects(sent, (e: unknown) => e instanceof GantryError && e.code === 'INFERENCE_TIMEOUT');
    // The stop comes later (as a person's would): the pool has done what it does after an abort by then.
    await new Promise((r) => setTimeout(r, 1_000));
    w.child.kill('SIGTERM');
    // The runtime's stop: a grace, then SIGKILL. Before the fix the worker's close waited on a connection the
    // gateway's pool had opened and never used, for the pool's keep-alive (10 s), and was killed.
    const kill = setTimeout(() => w.child.kill('SIGKILL'), 6_000);
    const code = await w.exited;
    clearTimeout(kill);
    await pools.close();
    assert.equal(code, 0, `the worker ended by ${w.child.signalCode ?? `exit code ${String(code)}`}, not by itself`);
  });

  it('gives up at once when the control plane refuses its credentials', async () => {
    const port = await freePort();
    const child = spawn(process.execPath, [GANTRY_BIN, 'inference-worker'], {
      env: { PATH: process.env.PATH, REPORT_ADDR: addr, MASTER_TOKEN: 'wrong', CONTAINER_ID: '1', WORKER_PORT: String(port) },
      cwd: WORK,
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    children.push(child);
    let stderr = '';
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString('utf8')));
    const code = await new Promise<number | null>((r) => child.on('exit', r));
    assert.equal(code, 1);
    assert.match(stderr, /401/);
  });
});
