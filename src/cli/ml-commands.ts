import { open, readFile, stat } from 'node:fs/promises';
import { Option, type Command } from 'commander';
import { GantryApiError, type GantryClient, type Row } from '../sdk/client.js';
import { connect, type GlobalFlags } from './connection.js';
import { printJson, spinner, table, text } from './output.js';

/**
 * `gantry ml ...`: Elasticsearch trained models and their deployments over Gantry's Elasticsearch
 * dialect (`/_ml/trained_models`), with the wire contract Elasticsearch's own clients use.
 */

type Flags = GlobalFlags & {
  onnx?: string;
  vocab?: string;
  task?: string;
  labels?: string;
  lowerCase?: boolean;
  maxSequenceLength?: string;
  description?: string;
  partSize?: string;
  deploymentId?: string;
  allocations?: string;
  threads?: string;
  queueCapacity?: string;
  waitFor?: string;
  timeout?: string;
  force?: boolean;
  finishPendingWork?: boolean;
  allowNoMatch?: string;
  field?: string;
};
type Columns = [string, string | ((r: Row) => unknown)][];

const TASKS = ['text_classification', 'text_embedding', 'pass_through'];
/** Eland's default part size: a part travels base64 inside JSON, well under the 100mb request limit. */
const DEFAULT_PART_SIZE = '4MB';
const MAX_PART_BYTES = 64 * 1024 * 1024;

const model = (id: string): string => `/_ml/trained_models/${encodeURIComponent(id)}`;
/** Several ids, csv or patterns, as Elasticsearch takes them in the path. */
const ids = (list: readonly string[]): string =>
  list
    .flatMap((x) => x.split(','))
    .filter((x) => x !== '')
    .map(encodeURIComponent)
    .join(',');
const query = (params: Record<string, string | undefined>): string => {
  const q = new URLSearchParams(Object.entries(params).filter((e): e is [string, string] => e[1] !== undefined));
  const s = q.toString();
  return s === '' ? '' : `?${s}`;
};

/** '4MB', '512kb', '1048576' (bytes) → bytes. */
export function parseByteSize(v: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(b|kb|k|mb|m|gb|g)?\s*$/i.exec(v);
  const unit = { b: 1, k: 1024, kb: 1024, m: 1024 ** 2, mb: 1024 ** 2, g: 1024 ** 3, gb: 1024 ** 3 }[(m?.[2] ?? 'b').toLowerCase()];
  const n = m === null || unit === undefined ? NaN : Math.floor(Number(m[1]) * unit);
  if (!Number.isSafeInteger(n) || n < 1 || n > MAX_PART_BYTES)
    throw new Error(`--part-size '${v}' is not a size between 1 byte and 64MB (use e.g. 4MB, 512kb).`);
  return n;
}

const positiveInt = (v: string | undefined, flag: string): number | undefined => {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isSafeInteger(n) || n < 1) throw new Error(`${flag} '${v}' is not a positive integer.`);
  return n;
};

/** A vocab.txt as BERT ships it: one token per line, the line number is the token id. */
async function readVocabulary(file: string): Promise<string[]> {
  const body = await readFile(file, 'utf8').catch((err: unknown) => {
    throw new Error(`cannot read the vocabulary file ${file}: ${err instanceof Error ? err.message : String(err)}`);
  });
  const lines = body.split('\n').map((l) => (l.endsWith('\r') ? l.slice(0, -1) : l));
  if (lines.at(-1) === '') lines.pop();
  if (lines.length === 0) throw new Error(`the vocabulary file ${file} is empty (it needs one token per line).`);
  return lines;
}

function inferenceConfig(f: Flags): Record<string, unknown> {
  const task = f.task as string;
  const bert: Record<string, unknown> = { do_lower_case: f.lowerCase === true };
  const max = positiveInt(f.maxSequenceLength, '--max-sequence-length');
  if (max !== undefined) bert.max_sequence_length = max;
  const body: Record<string, unknown> = { tokenization: { bert } };
  if (f.labels !== undefined) {
    if (task !== 'text_classification') throw new Error('--labels is for --task text_classification only.');
    const labels = f.labels.split(',').map((l) => l.trim());
    if (labels.some((l) => l === '')) throw new Error(`--labels '${f.labels}' has an empty label (use e.g. --labels negative,neutral,positive).`);
    body.classification_labels = labels;
  }
  return { [task]: body };
}

/**
 * Upload the ONNX file in parts, reading one part at a time from disk (a model can be larger than
 * memory allows twice over), each part base64 in its own PUT, as Eland uploads.
 */
async function uploadDefinition(c: GantryClient, id: string, file: string, size: number, partBytes: number): Promise<number> {
  const parts = Math.ceil(size / partBytes);
  const progress = spinner(`uploading ${id}`);
  const fh = await open(file, 'r');
  try {
    const buf = Buffer.alloc(Math.min(partBytes, size));
    for (let i = 0; i < parts; i++) {
      const want = Math.min(partBytes, size - i * partBytes);
      const { bytesRead } = await fh.read(buf, 0, want, i * partBytes);
      if (bytesRead !== want) throw new Error(`${file} changed while it was read (part ${i} has ${bytesRead} of ${want} bytes).`);
      progress.update(`part ${i + 1}/${parts}`);
      const body = { definition: buf.subarray(0, want).toString('base64'), total_definition_length: size, total_parts: parts };
      await c.request('PUT', `${model(id)}/definition/${i}`, body);
    }
  } finally {
    await fh.close();
  }
  progress.stop(`${parts} part${parts === 1 ? '' : 's'}, ${size} bytes`);
  return parts;
}

async function importModel(id: string, f: Flags): Promise<void> {
  // Everything that can be checked here is checked before the first request, so a typo creates nothing.
  if (!TASKS.includes(f.task ?? '')) throw new Error(`unknown task '${f.task ?? ''}'; use one of ${TASKS.join(', ')}.`);
  const partBytes = parseByteSize(f.partSize ?? DEFAULT_PART_SIZE);
  const config = inferenceConfig(f);
  const onnx = f.onnx as string;
  const info = await stat(onnx).catch((err: unknown) => {
    throw new Error(`cannot read the ONNX file ${onnx}: ${err instanceof Error ? err.message : String(err)}`);
  });
  if (!info.isFile() || info.size === 0) throw new Error(`the ONNX file ${onnx} is not a non-empty file.`);
  const vocabulary = await readVocabulary(f.vocab as string);

  const c = connect(f);
  const body = {
    model_type: 'onnx',
    inference_config: config,
    input: { field_names: ['text_field'] },
    model_size_bytes: info.size,
    ...(f.description !== undefined ? { description: f.description } : {}),
  };
  await c.request('PUT', model(id), body);
  let parts: number;
  try {
    parts = await uploadDefinition(c, id, onnx, info.size, partBytes);
    await c.request('PUT', `${model(id)}/vocabulary`, { vocabulary });
  } catch (err) {
    const why = err instanceof Error ? err.message : String(err);
    throw new Error(`${why}\nmodel ${id} was created but is not fully defined; remove it with \`gantry ml delete ${id}\` before importing again.`);
  }
  const shown = await c.request<{ trained_model_configs: Row[] }>('GET', `${model(id)}${query({ include: 'definition_status' })}`);
  const m = shown.trained_model_configs[0] ?? {};
  if (f.raw === true) printJson(shown);
  else
    process.stdout.write(
      `${id}: ${info.size} bytes in ${parts} part${parts === 1 ? '' : 's'}, ${vocabulary.length} tokens; fully defined: ${text(m.fully_defined)}\n`,
    );
}

const taskOf = (r: Row): string => Object.keys(r.inference_config ?? {})[0] ?? '';
const deploymentOf = (r: Row): Row | undefined => r.deployment_stats as Row | undefined;
const nodesOf = (d: Row): Row[] => (Array.isArray(d.nodes) ? (d.nodes as Row[]) : []);
const sum = (rows: Row[], key: string): number => rows.reduce((s, n) => s + (typeof n[key] === 'number' ? n[key] : 0), 0);

const MODEL_COLUMNS = (deployments: Map<string, string[]> | null): Columns => [
  ['ID', 'model_id'],
  ['Type', 'model_type'],
  ['Task', taskOf],
  ['Fully defined', 'fully_defined'],
  // Without the stats (an older server) the deployments are unknown, not "none".
  ['Deployments', (r) => (deployments === null ? null : (deployments.get(text(r.model_id)) ?? []).join(',') || 'none')],
];

const DEPLOYMENT_COLUMNS: Columns = [
  ['Deployment', (r) => deploymentOf(r)?.deployment_id],
  ['Model', 'model_id'],
  ['State', (r) => deploymentOf(r)?.state],
  [
    'Allocations',
    (r) => {
      const a = (deploymentOf(r)?.allocation_status ?? {}) as Row;
      return `${text(a.allocation_count)}/${text(a.target_allocation_count)}`;
    },
  ],
  ['Inferences', (r) => deploymentOf(r)?.inference_count ?? sum(nodesOf(deploymentOf(r) ?? {}), 'inference_count')],
  ['Pending', (r) => sum(nodesOf(deploymentOf(r) ?? {}), 'number_of_pending_requests')],
];

async function listModels(list: string[], f: Flags): Promise<void> {
  const c = connect(f);
  const path = `/_ml/trained_models${list.length > 0 ? `/${ids(list)}` : ''}`;
  const r = await c.request<{ trained_model_configs: Row[] }>('GET', `${path}${query({ include: 'definition_status' })}`);
  if (f.raw === true) return printJson(r);
  let deployments: Map<string, string[]> | null = new Map();
  try {
    const s = await c.request<{ trained_model_stats: Row[] }>('GET', `${path}/_stats`);
    for (const m of s.trained_model_stats) {
      const d = deploymentOf(m);
      if (d !== undefined) deployments.set(text(m.model_id), [...(deployments.get(text(m.model_id)) ?? []), text(d.deployment_id)]);
    }
  } catch (err) {
    if (!(err instanceof GantryApiError)) throw err;
    deployments = null;
  }
  process.stdout.write(table(r.trained_model_configs, MODEL_COLUMNS(deployments), 'No trained models.'));
}

/** A prediction for a table cell: a long vector shows its head and its length. */
function prediction(v: unknown): unknown {
  if (!Array.isArray(v) || v.length <= 4) return v;
  return `[${v
    .slice(0, 4)
    .map((x) => (typeof x === 'number' ? x.toFixed(4) : text(x)))
    .join(', ')}, …] (${v.length})`;
}

async function infer(id: string, texts: string[], f: Flags): Promise<void> {
  const field = f.field ?? 'text_field';
  const body = { docs: texts.map((t) => ({ [field]: t })) };
  // Bounded by the server (`timeout`, 10 s unless given), which may be longer than the client's default.
  const r = await connect(f).request<{ inference_results: Row[] }>(
    'POST',
    `${model(id)}/_infer${query({ timeout: f.timeout })}`,
    body,
    {},
    { timeoutMs: null },
  );
  if (f.raw === true) return printJson(r);
  const rows = r.inference_results.map((x, i) => ({ ...x, text: texts[i] }));
  process.stdout.write(
    table(rows, [
      ['Text', 'text'],
      ['Prediction', (x) => prediction(x.predicted_value)],
      ['Probability', 'prediction_probability'],
    ]),
  );
}

const HELP_AFTER = `
Models are ONNX exports of Hugging Face BERT-style models (inputs input_ids, attention_mask and
optionally token_type_ids) with their vocab.txt. Every verb takes --raw (the JSON answer).
  gantry ml import my-model --onnx model.onnx --vocab vocab.txt --task text_classification --labels neg,pos
  gantry ml start my-model --allocations 2 --wait-for fully_allocated
  gantry ml infer my-model "what a great movie"
  gantry ml stop my-model --finish-pending-work`;

export function registerMlCommands(program: Command): void {
  const ml = program
    .command('ml')
    .description('Elasticsearch trained models: import, models, start, infer, deployments, stop, delete')
    .addHelpText('after', HELP_AFTER);

  ml.command('import <model_id>')
    .description('create a model from an ONNX file and its vocabulary: the config, the definition in parts, the vocabulary')
    .requiredOption('--onnx <file>', 'the ONNX model file')
    .requiredOption('--vocab <file>', 'the vocabulary, one token per line (BERT vocab.txt)')
    .requiredOption('--task <task>', `the task: ${TASKS.join(', ')}`)
    .option('--labels <a,b,c>', 'text_classification: one label per model output, in order')
    .option('--lower-case', 'lower-case text before tokenizing (uncased models)')
    .option('--max-sequence-length <n>', 'tokens per document, [CLS] and [SEP] included (default 512)')
    .option('--description <text>', "the model's description")
    .option('--part-size <size>', 'bytes per definition part (e.g. 4MB, 512kb)', DEFAULT_PART_SIZE)
    .action((id: string, _o, cmd: Command) => importModel(id, cmd.optsWithGlobals()));

  ml.command('models [ids...]')
    .description('list models (ids, csv or * patterns): id, type, task, fully defined, deployments')
    .action((list: string[], _o, cmd: Command) => listModels(list, cmd.optsWithGlobals()));

  ml.command('deployments [ids...]')
    .description('list deployments of models or deployment ids: state, allocations, inferences, pending requests')
    .action(async (list: string[], _o, cmd: Command) => {
      const f: Flags = cmd.optsWithGlobals();
      const path = `/_ml/trained_models${list.length > 0 ? `/${ids(list)}` : ''}/_stats`;
      const r = await connect(f).request<{ trained_model_stats: Row[] }>('GET', path);
      if (f.raw === true) printJson(r);
      else
        process.stdout.write(
          table(
            r.trained_model_stats.filter((m) => deploymentOf(m) !== undefined),
            DEPLOYMENT_COLUMNS,
            'No model deployments.',
          ),
        );
    });

  ml.command('start <model_id>')
    .description('start a deployment of a model and wait until it is started')
    .option('--deployment-id <id>', 'the deployment id (default: the model id)')
    .option('--allocations <n>', 'number of allocations (workers)')
    .option('--threads <n>', 'threads per allocation')
    .option('--queue-capacity <n>', 'requests queued per deployment before 429')
    .addOption(new Option('--wait-for <state>', 'answer once the deployment is this far').choices(['starting', 'started', 'fully_allocated']))
    .option('--timeout <t>', 'how long to wait (e.g. 30s)')
    .action(async (id: string, _o, cmd: Command) => {
      const f: Flags = cmd.optsWithGlobals();
      const q = query({
        deployment_id: f.deploymentId,
        number_of_allocations: positiveInt(f.allocations, '--allocations')?.toString(),
        threads_per_allocation: positiveInt(f.threads, '--threads')?.toString(),
        queue_capacity: positiveInt(f.queueCapacity, '--queue-capacity')?.toString(),
        wait_for: f.waitFor,
        timeout: f.timeout,
      });
      // The server waits up to `timeout` (20 s unless given) for `wait_for`: its bound, not the client's default.
      const r = await connect(f).request<{ assignment: Row }>('POST', `${model(id)}/deployment/_start${q}`, undefined, {}, { timeoutMs: null });
      if (f.raw === true) return printJson(r);
      const a = r.assignment;
      const p = (a.task_parameters ?? {}) as Row;
      const routes = Object.values((a.routing_table ?? {}) as Record<string, Row>);
      const current = sum(routes, 'current_allocations');
      process.stdout.write(
        `${text(p.deployment_id ?? f.deploymentId ?? id)}: ${text(a.assignment_state)}, allocations ${current}/${text(p.number_of_allocations)}\n`,
      );
    });

  ml.command('stop <deployment_id>')
    .description('stop a deployment; it returns once its workers are gone')
    .option('--force', 'stop even if ingest pipelines use it')
    .option('--finish-pending-work', 'answer the queued requests first (default: refuse them with 429)')
    .addOption(new Option('--allow-no-match <bool>', 'false: an unknown deployment is an error').choices(['true', 'false']))
    .action(async (id: string, _o, cmd: Command) => {
      const f: Flags = cmd.optsWithGlobals();
      const q = query({
        force: f.force === true ? 'true' : undefined,
        finish_pending_work: f.finishPendingWork === true ? 'true' : undefined,
        allow_no_match: f.allowNoMatch,
      });
      // The server holds the stop until the workers are gone (up to 5 min): its bound, not the client's default 1 min.
      const r = await connect(f).request('POST', `${model(id)}/deployment/_stop${q}`, undefined, {}, { timeoutMs: null });
      const stopped = (r.gantry as Row | undefined)?.stopped;
      if (f.raw === true) printJson(r);
      // A pattern that matched nothing is not an error (allow_no_match, as Elasticsearch), but is not "stopped" either.
      else if (Array.isArray(stopped) && stopped.length === 0) process.stdout.write(`${id}: no deployment matched; nothing was stopped\n`);
      else process.stdout.write(`${Array.isArray(stopped) ? stopped.map(String).join(', ') : id}: stopped\n`);
    });

  ml.command('infer <id> <text...>')
    .description('run a model deployment (model or deployment id) on texts, one document each')
    .option('--field <name>', "the documents' input field", 'text_field')
    .option('--timeout <t>', 'how long to wait for the results (e.g. 10s)')
    .action((id: string, texts: string[], _o, cmd: Command) => infer(id, texts, cmd.optsWithGlobals()));

  ml.command('delete <model_id>')
    .description('delete a model, its definition and vocabulary')
    .option('--force', 'even if it is deployed or ingest pipelines use it')
    .action(async (id: string, _o, cmd: Command) => {
      const f: Flags = cmd.optsWithGlobals();
      const r = await connect(f).request('DELETE', `${model(id)}${query({ force: f.force === true ? 'true' : undefined })}`);
      if (f.raw === true) printJson(r);
      else process.stdout.write(`${id}: deleted\n`);
    });
}
