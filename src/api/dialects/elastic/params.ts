import type { FastifyInstance } from 'fastify';
import { GantryError } from '../../../domain/errors.js';

/** Parameters every Elasticsearch route takes (the response's form): accepted, and without effect here. */
const COMMON = ['error_trace', 'filter_path', 'human', 'pretty'];

const MODELS_LIST = ['allow_no_match', 'decompress_definition', 'exclude_generated', 'from', 'include', 'size', 'tags'];
const STATS = ['allow_no_match', 'from', 'size'];
const PIPELINES_GET = ['master_timeout', 'summary'];

/**
 * The query parameters of each route: Elasticsearch's own (as its clients send them; one Gantry does not act on is
 * still taken), and Gantry's extensions (`finish_pending_work`, `expand_wildcards` and `timeout` on a stop, the
 * inference delay knob). Anything else is refused as Elasticsearch refuses it, so a misspelt `timout=10s` is not
 * silently a default.
 */
const ROUTE_PARAMS: Readonly<Record<string, readonly string[]>> = {
  'PUT /_ml/trained_models/:model_id': ['defer_definition_decompression', 'wait_for_completion'],
  'PUT /_ml/trained_models/:model_id/definition/:part': [],
  'PUT /_ml/trained_models/:model_id/vocabulary': [],
  'GET /_ml/trained_models': MODELS_LIST,
  'GET /_ml/trained_models/:model_id': MODELS_LIST,
  'DELETE /_ml/trained_models/:model_id': ['force', 'timeout'],
  'PUT /_ml/trained_models/:model_id/model_aliases/:model_alias': ['reassign'],
  'DELETE /_ml/trained_models/:model_id/model_aliases/:model_alias': [],
  'PUT /_ingest/pipeline/:id': ['master_timeout', 'timeout', 'if_version'],
  'GET /_ingest/pipeline': PIPELINES_GET,
  'GET /_ingest/pipeline/:id': PIPELINES_GET,
  'DELETE /_ingest/pipeline/:id': ['master_timeout', 'timeout'],
  'POST /_ml/trained_models/:model_id/deployment/_start': [
    'cache_size',
    'deployment_id',
    'number_of_allocations',
    'priority',
    'queue_capacity',
    'threads_per_allocation',
    'timeout',
    'wait_for',
    // Older names of the thread settings, and Gantry's knob that makes a slow model.
    'inference_threads',
    'model_threads',
    'gantry_inference_delay_ms',
  ],
  'POST /_ml/trained_models/:deployment_id/deployment/_update': ['number_of_allocations'],
  'POST /_ml/trained_models/:deployment_id/deployment/_stop': ['allow_no_match', 'force', 'finish_pending_work', 'timeout', 'expand_wildcards'],
  'POST /_ml/trained_models/:deployment_id/deployment/cache/_clear': [],
  'POST /_ml/trained_models/:model_id/_infer': ['timeout'],
  'POST /_ml/trained_models/:model_id/deployment/_infer': ['timeout'],
  'GET /_ml/trained_models/_stats': STATS,
  'GET /_ml/trained_models/:model_id/_stats': STATS,
  'POST /_ingest/pipeline/_simulate': ['verbose'],
  'POST /_ingest/pipeline/:id/_simulate': ['verbose'],
};

const ALLOWED = new Map(Object.entries(ROUTE_PARAMS).map(([route, names]) => [route, new Set([...COMMON, ...names])]));

/** Refuse a query parameter the route does not define, in Elasticsearch's words (after the caller's credentials are checked). */
export function refuseUnknownParams(app: FastifyInstance): void {
  app.addHook('preValidation', async (req) => {
    const allowed = ALLOWED.get(`${req.method} ${req.routeOptions.url ?? ''}`);
    if (allowed === undefined) return;
    const unknown = Object.keys(req.query as Record<string, unknown>).filter((k) => !allowed.has(k));
    if (unknown.length === 0) return;
    const path = req.url.split('?')[0] ?? req.url;
    const names = unknown.map((k) => `[${k}]`).join(', ');
    throw new GantryError('INVALID_ARGUMENT', `request [${path}] contains unrecognized parameter${unknown.length > 1 ? 's' : ''}: ${names}`, {
      field: unknown[0],
    });
  });
}
