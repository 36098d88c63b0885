import { join } from 'node:path';
import { workloadBaseEnv } from '../src/config/load.js';
import { scanOnnx } from '../src/domain/ml/onnx-scan.js';
import { parseInferenceConfig } from '../src/domain/ml/tasks.js';
import { Vocabulary } from '../src/domain/ml/tokenizer.js';
import { InferenceEngine } from '../src/inference/engine.js';
import type { RunningGantry } from '../src/main/up.js';
import { tinyClassifier, VOCABULARY } from '../test/fixtures/onnx/models.js';
import { benchGantry, pair, textTable, type LatencyRow } from './util.js';

/**
 * Elasticsearch dialect benchmarks, each beside its baseline in the same run:
 *  - `_infer` on a tiny classifier deployed with 1 allocation, through Gantry (real HTTP, gateway,
 *    worker process) vs the worker's own code path in this process (tokenize, session.run,
 *    post-process: `InferenceEngine`), one request at a time (latency) and CONCURRENCY at once (throughput);
 *  - `_stop` latency (the call until `{stopped: true}`, i.e. the workers are gone) with QUEUED requests
 *    waiting, refusing them (the default) vs `finish_pending_work=true` (answering them first). The
 *    workers of that run sleep STOP_DELAY_MS per request (GANTRY_INFERENCE_DELAY_MS) so requests do queue.
 */
const LATENCY_RUNS = 300;
const THROUGHPUT_CALLS = 600;
const CONCURRENCY = 16;
const STOP_ROUNDS = 3;
const QUEUED = 20;
const STOP_DELAY_MS = 25;

const MODEL = tinyClassifier({ hidden: 64, labels: 3 });
const LABELS = ['negative', 'neutral', 'positive'];
const INFERENCE_CONFIG = { text_classification: { classification_labels: LABELS, tokenization: { bert: { do_lower_case: true, max_sequence_length: 64 } } } };
const BODY = { docs: [{ text_field: 'I love this movie, the cat sat on the mat!' }] };

export interface ThroughputRow {
  readonly variant: string;
  readonly calls: number;
  readonly concurrency: number;
  readonly perSecond: number;
  /** The baseline's rate over this one's: how many times slower (1 for the baseline). */
  readonly overhead: number;
}

export interface StopOutcome {
  readonly variant: string;
  readonly answered: number;
  readonly refused: number;
}

export interface ElasticBench {
  readonly latency: LatencyRow[];
  readonly throughput: ThroughputRow[];
  readonly stop: LatencyRow[];
  readonly stopOutcomes: StopOutcome[];
}

type Reply = { status: number; body: any };

function caller(g: RunningGantry): (method: string, path: string, body?: unknown) => Promise<Reply> {
  return async (method, path, body) => {
    const res = await fetch(g.url + path, {
      method,
      headers: { authorization: `ApiKey ${g.adminKey ?? ''}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    return { status: res.status, body: text === '' ? null : JSON.parse(text) };
  };
}

const must = async (p: Promise<Reply>, what: string): Promise<any> => {
  const r = await p;
  if (r.status !== 200) throw new Error(`bench elastic: ${what}: ${r.status} ${JSON.stringify(r.body)}`);
  return r.body;
};

const time = async (f: () => Promise<unknown>): Promise<number> => {
  const t = process.hrtime.bigint();
  await f();
  return Number(process.hrtime.bigint() - t) / 1e6;
};

function start(dir: string, workerDelayMs: number): Promise<RunningGantry> {
  // The workers inherit the host's workload environment: the delay makes requests queue behind each other.
  const workloadEnv = { ...workloadBaseEnv(), ...(workerDelayMs > 0 ? { GANTRY_INFERENCE_DELAY_MS: String(workerDelayMs) } : {}) };
  return benchGantry(dir, { gpus: '4x RTX 4090:24GB', autoscaleIntervalMs: 50 }, workloadEnv);
}

/** The model over the API, as `gantry ml import` puts it: config, definition parts, vocabulary. */
async function putModel(call: ReturnType<typeof caller>, id: string): Promise<void> {
  await must(
    call('PUT', `/_ml/trained_models/${id}`, { model_type: 'onnx', inference_config: INFERENCE_CONFIG, input: { field_names: ['text_field'] } }),
    'put model',
  );
  const definition = Buffer.from(MODEL.bytes).toString('base64');
  await must(call('PUT', `/_ml/trained_models/${id}/definition/0`, { definition, total_definition_length: MODEL.bytes.length, total_parts: 1 }), 'definition');
  await must(call('PUT', `/_ml/trained_models/${id}/vocabulary`, { vocabulary: VOCABULARY }), 'vocabulary');
}

async function startDeployment(call: ReturnType<typeof caller>, id: string): Promise<void> {
  const r = await call('POST', `/_ml/trained_models/${id}/deployment/_start?number_of_allocations=1&threads_per_allocation=1&wait_for=started&timeout=120s`);
  const reason = String(r.body?.error?.reason ?? '');
  if (r.status === 404 || reason.startsWith('no handler found')) {
    throw new Error(`bench elastic: POST /_ml/trained_models/{id}/deployment/_start answered ${r.status} (${reason}): this build has no deployment routes`);
  }
  if (r.status !== 200) throw new Error(`bench elastic: _start: ${r.status} ${JSON.stringify(r.body)}`);
}

/** The baseline: the worker's engine on the same model, in this process. */
async function inProcessEngine(): Promise<InferenceEngine> {
  const model = {
    modelId: 'baseline',
    config: parseInferenceConfig(INFERENCE_CONFIG),
    inputField: 'text_field',
    vocabulary: new Vocabulary(VOCABULARY),
    definition: MODEL.bytes,
    summary: await scanOnnx([MODEL.bytes]),
  };
  return InferenceEngine.create(model, 1);
}

/** `calls` calls, `concurrency` at a time; calls per second. */
async function rate(calls: number, concurrency: number, f: () => Promise<unknown>): Promise<number> {
  let next = 0;
  const ms = await time(() =>
    Promise.all(
      Array.from({ length: concurrency }, async () => {
        while (next++ < calls) await f();
      }),
    ),
  );
  return calls / (ms / 1000);
}

async function inferBench(dir: string): Promise<{ latency: LatencyRow[]; throughput: ThroughputRow[] }> {
  const g = await start(join(dir, 'elastic-infer'), 0);
  const engine = await inProcessEngine();
  try {
    const call = caller(g);
    await putModel(call, 'tiny');
    await startDeployment(call, 'tiny');
    const http = async (): Promise<void> => {
      const r = await must(call('POST', '/_ml/trained_models/tiny/_infer', BODY), 'infer');
      if (!LABELS.includes(r.inference_results[0]?.predicted_value)) throw new Error(`bench elastic: unexpected ${JSON.stringify(r)}`);
    };
    const direct = async (): Promise<void> => {
      const r = await engine.infer(BODY);
      if (!LABELS.includes(r[0]?.predicted_value as string)) throw new Error(`bench elastic: unexpected ${JSON.stringify(r)}`);
    };
    for (let i = 0; i < 20; i++) {
      await http();
      await direct();
    }
    const h: number[] = [];
    const d: number[] = [];
    for (let i = 0; i < LATENCY_RUNS; i++) {
      h.push(await time(http));
      d.push(await time(direct));
    }
    const baseRate = await rate(THROUGHPUT_CALLS, CONCURRENCY, direct);
    const httpRate = await rate(THROUGHPUT_CALLS, CONCURRENCY, http);
    await must(call('POST', '/_ml/trained_models/tiny/deployment/_stop'), 'stop');
    return {
      latency: pair(
        `_infer, tiny classifier, 1 allocation, one at a time`,
        ['onnxruntime-node in-process: tokenize + session.run + post-process (baseline)', d],
        ['POST /_ml/trained_models/{id}/_infer through Gantry (HTTP, gateway, worker)', h],
      ),
      throughput: [
        { variant: 'in-process engine (baseline)', calls: THROUGHPUT_CALLS, concurrency: CONCURRENCY, perSecond: baseRate, overhead: 1 },
        { variant: '_infer through Gantry', calls: THROUGHPUT_CALLS, concurrency: CONCURRENCY, perSecond: httpRate, overhead: baseRate / httpRate },
      ],
    };
  } finally {
    await engine.release();
    await g.close();
  }
}

async function stopBench(dir: string): Promise<{ stop: LatencyRow[]; stopOutcomes: StopOutcome[] }> {
  const g = await start(join(dir, 'elastic-stop'), STOP_DELAY_MS);
  try {
    const call = caller(g);
    await putModel(call, 'tiny');
    const times: Record<'refuse' | 'drain', number[]> = { refuse: [], drain: [] };
    const outcomes = { refuse: { answered: 0, refused: 0 }, drain: { answered: 0, refused: 0 } };
    for (let round = 0; round < STOP_ROUNDS; round++) {
      for (const mode of ['refuse', 'drain'] as const) {
        await startDeployment(call, 'tiny');
        await must(call('POST', '/_ml/trained_models/tiny/_infer', BODY), 'warm-up infer');
        const queued = Array.from({ length: QUEUED }, () => call('POST', '/_ml/trained_models/tiny/_infer', BODY));
        // Let the requests reach the gateway's queue before the stop.
        await new Promise((r) => setTimeout(r, 2 * STOP_DELAY_MS));
        const path = `/_ml/trained_models/tiny/deployment/_stop${mode === 'drain' ? '?finish_pending_work=true' : ''}`;
        times[mode].push(
          await time(async () => {
            const r = await must(call('POST', path), 'stop');
            if (r.stopped !== true) throw new Error(`bench elastic: stop answered ${JSON.stringify(r)}`);
          }),
        );
        for (const r of await Promise.all(queued)) {
          if (r.status === 200) outcomes[mode].answered++;
          else outcomes[mode].refused++;
        }
      }
    }
    return {
      stop: pair(
        `_stop with ${QUEUED} requests queued (${STOP_DELAY_MS} ms each), until {stopped:true}`,
        ['_stop: queued requests refused (baseline)', times.refuse],
        ['_stop?finish_pending_work=true: queued requests answered first', times.drain],
      ),
      stopOutcomes: [
        { variant: '_stop', ...outcomes.refuse },
        { variant: '_stop?finish_pending_work=true', ...outcomes.drain },
      ],
    };
  } finally {
    await g.close();
  }
}

export async function elasticBench(dir: string): Promise<ElasticBench> {
  const infer = await inferBench(dir);
  const stop = await stopBench(dir);
  return { ...infer, ...stop };
}

export function printElastic(b: ElasticBench): void {
  const head = ['benchmark', 'variant', 'n', 'p50 ms', 'p99 ms', 'p50 ratio'];
  const cells = [...b.latency, ...b.stop].map((r) => [
    r.bench,
    r.variant,
    String(r.n),
    r.p50Ms.toFixed(2),
    r.p99Ms.toFixed(2),
    r.ratioP50 === null ? '-' : `${r.ratioP50.toFixed(1)}x`,
  ]);
  process.stdout.write(textTable(head, cells));
  process.stdout.write('\n');
  process.stdout.write(
    textTable(
      ['_infer throughput', 'calls', 'concurrency', 'calls/s', 'overhead'],
      b.throughput.map((t) => [t.variant, String(t.calls), String(t.concurrency), t.perSecond.toFixed(0), `${t.overhead.toFixed(1)}x`]),
    ),
  );
  process.stdout.write('\n');
  process.stdout.write(
    textTable(
      ['stop variant', `queued requests answered (of ${QUEUED * STOP_ROUNDS})`, 'refused'],
      b.stopOutcomes.map((o) => [o.variant, String(o.answered), String(o.refused)]),
    ),
  );
}
