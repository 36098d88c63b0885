import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Principal } from '../../../control/principal.js';
import { GantryError, isGantryError } from '../../../domain/errors.js';
import type { Abort } from '../../../gateway/abort.js';
import { callerGone } from '../../edge/caller-gone.js';
import type { EdgeDeps } from '../../edge/dialect.js';
import { principal } from '../../edge/principal.js';
import { esTypeOf } from './errors.js';
import { inferDocs } from './infer.js';
import { objectBody, type Query } from './query.js';

const SIMULATE_TIMEOUT_MS = 10_000;

type Obj = Record<string, unknown>;
const isObj = (x: unknown): x is Obj => typeof x === 'object' && x !== null && !Array.isArray(x);

/*
 * Field paths are the caller's text, and `__proto__` is as good a field name as any in Elasticsearch: read and
 * written as the document's own fields only. A plain `cur[k]` walked `__proto__` to Object.prototype, and the
 * write then changed every object of the server (one request crashed it).
 */
function getPath(o: Obj, path: string): unknown {
  let cur: unknown = o;
  for (const k of path.split('.')) {
    if (!isObj(cur) || !Object.hasOwn(cur, k)) return undefined;
    cur = cur[k];
  }
  return cur;
}

function setField(o: Obj, k: string, v: unknown): void {
  Object.defineProperty(o, k, { value: v, writable: true, enumerable: true, configurable: true });
}

function setPath(o: Obj, path: string, v: unknown): void {
  const keys = path.split('.');
  let cur = o;
  for (const k of keys.slice(0, -1)) {
    const next = Object.hasOwn(cur, k) ? cur[k] : undefined;
    if (isObj(next)) cur = next;
    else {
      const made: Obj = {};
      setField(cur, k, made);
      cur = made;
    }
  }
  setField(cur, keys[keys.length - 1] as string, v);
}

/**
 * One inference processor on one document, as Elasticsearch's: `input_output` maps source fields to
 * output fields; otherwise `field_map` renames the document's fields to the model's input field and
 * the result goes under `target_field` (default `ml.inference.<tag or model id>`).
 */
async function runInference(deps: EdgeDeps, p: Principal, proc: Obj, source: Obj, gone: Abort): Promise<void> {
  const modelId = String(proc.model_id);
  const config = proc.inference_config;
  const io = proc.input_output;
  if (Array.isArray(io)) {
    for (const pair of io) {
      if (!isObj(pair)) continue;
      const input = getPath(source, typeof pair.input_field === 'string' ? pair.input_field : '');
      if (input === undefined)
        throw new GantryError(
          'INPUT_FIELD_MISSING',
          `Input field [${typeof pair.input_field === 'string' ? pair.input_field : ''}] does not exist in the source document`,
        );
      const [r] = await inferDocs(deps, p, modelId, [{ text_field: input }], config, SIMULATE_TIMEOUT_MS, gone);
      setPath(
        source,
        typeof pair.output_field === 'string' ? pair.output_field : `ml.inference.${typeof pair.input_field === 'string' ? pair.input_field : ''}`,
        isObj(r) ? r.predicted_value : r,
      );
    }
    return;
  }
  const doc: Obj = { ...source };
  if (isObj(proc.field_map))
    for (const [from, to] of Object.entries(proc.field_map)) if (getPath(source, from) !== undefined) setField(doc, String(to), getPath(source, from));
  const [r] = await inferDocs(deps, p, modelId, [doc], config, SIMULATE_TIMEOUT_MS, gone);
  const target = typeof proc.target_field === 'string' ? proc.target_field : `ml.inference.${typeof proc.tag === 'string' ? proc.tag : modelId}`;
  setPath(source, target, { ...(isObj(r) ? r : { predicted_value: r }), model_id: modelId });
}

function errorOf(err: unknown): Obj {
  const e = isGantryError(err) ? err : new GantryError('INTERNAL', String(err));
  const cause = { type: esTypeOf(e), reason: e.message };
  return { root_cause: [cause], ...cause, code: e.code };
}

/** `_simulate`: each document through the pipeline's inference processors, answered per document. */
export function elasticSimulateRoutes(app: FastifyInstance, deps: EdgeDeps): void {
  const handler = async (req: FastifyRequest, reply: FastifyReply, id: string | null): Promise<unknown> => {
    void (req.query as Query);
    const p = principal(req);
    const body = objectBody(req.body, { optional: false });
    const pipeline = await deps.control.ml.simulatedPipeline(p, id, body.pipeline);
    if (!Array.isArray(body.docs) || body.docs.length === 0)
      throw new GantryError('MISSING_INPUT', 'must specify at least one document in [docs]', { field: 'docs' });
    const processors = Array.isArray(pipeline.processors) ? pipeline.processors.filter(isObj) : [];
    const docs = [];
    // A caller that leaves gives up its queue places: the documents left fail at once (CALLER_LEFT).
    const gone = callerGone(reply.raw);
    for (const raw of body.docs) {
      const d = isObj(raw) ? raw : {};
      const source: Obj = isObj(d._source) ? structuredClone(d._source) : {};
      try {
        for (const proc of processors) if (isObj(proc.inference)) await runInference(deps, p, proc.inference, source, gone);
        docs.push({
          doc: { _index: d._index ?? '_index', _id: d._id ?? '_id', _version: '-3', _source: source, _ingest: { timestamp: new Date().toISOString() } },
        });
      } catch (err) {
        docs.push({ error: errorOf(err) });
      }
    }
    return { docs };
  };
  app.post('/_ingest/pipeline/_simulate', async (req, reply) => handler(req, reply, null));
  app.post<{ Params: { id: string } }>('/_ingest/pipeline/:id/_simulate', async (req, reply) => handler(req, reply, req.params.id));
}
