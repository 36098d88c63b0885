import type { FastifyInstance } from 'fastify';
import type { AdaptiveAllocations, AdaptivePatch, MlDeployment, Priority, WaitFor } from '../../../control/ml/deployments.js';
import { GantryError } from '../../../domain/errors.js';
import type { EdgeDeps } from '../../edge/dialect.js';
import { principal } from '../../edge/principal.js';
import { parseByteSize } from './byte-size.js';
import { durationParam } from './duration.js';
import { boolParam, intParam, knownFields, objectBody, optObject, stringParam, type Query } from './query.js';
import { showValue } from '../../../domain/show.js';

/** Elasticsearch's start timeout (30s since ES PR #92328). */
const START_TIMEOUT_MS = 30_000;
/** How long a stop may take in all (drain, then the workers going away). */
const STOP_BOUND_MS = 5 * 60_000;

const invalid = (msg: string, field: string): GantryError => new GantryError('INVALID_ARGUMENT', msg, { field });

function oneOf<T extends string>(q: Query, name: string, values: readonly T[], dflt: T): T {
  const v = stringParam(q, name);
  if (v === null) return dflt;
  if (!(values as readonly string[]).includes(v)) throw invalid(`[${name}] must be one of [${values.join(', ')}], not [${v}]`, name);
  return v as T;
}

/**
 * The body's `adaptive_allocations`: undefined when absent, null when given as null (on `_update`:
 * remove the settings), else the fields given (a min or max of null: cleared by an update).
 */
function adaptiveOf(body: Record<string, unknown>): AdaptivePatch | null | undefined {
  if (body.adaptive_allocations === undefined) return undefined;
  const a = optObject(body, 'adaptive_allocations');
  if (a === null) return null;
  knownFields(a, new Set(['enabled', 'min_number_of_allocations', 'max_number_of_allocations']), 'adaptive_allocations');
  const num = (k: string): number | null | undefined => {
    const v = a[k];
    if (v === undefined || v === null) return v;
    if (typeof v !== 'number' || !Number.isInteger(v)) throw invalid(`[${k}] must be an integer`, k);
    return v;
  };
  if (a.enabled !== undefined && typeof a.enabled !== 'boolean') throw invalid('[enabled] must be a boolean', 'enabled');
  const min = num('min_number_of_allocations');
  const max = num('max_number_of_allocations');
  return { ...(a.enabled !== undefined ? { enabled: a.enabled } : {}), ...(min !== undefined ? { min } : {}), ...(max !== undefined ? { max } : {}) };
}

/** The settings a `_start` stores: what was given, the rest unset. */
const adaptiveSettings = (a: AdaptivePatch | null | undefined): AdaptiveAllocations | null =>
  a === null || a === undefined ? null : { enabled: a.enabled ?? null, min: a.min ?? null, max: a.max ?? null };

/** Elasticsearch's AdaptiveAllocationsSettings as it writes them: `enabled` (false when unset), min and max when set. */
export function adaptiveBody(a: AdaptiveAllocations): Record<string, unknown> {
  return {
    enabled: a.enabled ?? false,
    ...(a.min !== null ? { min_number_of_allocations: a.min } : {}),
    ...(a.max !== null ? { max_number_of_allocations: a.max } : {}),
  };
}

/**
 * `cache_size` from the query or the body, parsed as Elasticsearch's byte size; both given and
 * different is a 400, as Elasticsearch's handler answers.
 */
function cacheSizeOf(q: Query, body: Record<string, unknown>): string | null {
  const b = body.cache_size;
  if (b !== undefined && b !== null && typeof b !== 'string' && typeof b !== 'number') throw invalid('[cache_size] must be a string or a number', 'cache_size');
  const fromBody = b === undefined || b === null ? null : parseByteSize(String(b), 'cache_size');
  const raw = stringParam(q, 'cache_size');
  const fromQuery = raw === null ? null : parseByteSize(raw, 'cache_size');
  if (fromBody !== null && fromQuery !== null && fromBody.bytes !== fromQuery.bytes)
    throw invalid(`The parameter ${fromBody.rep} in the body is different from the parameter ${fromQuery.rep} in the query`, 'cache_size');
  return (fromBody ?? fromQuery)?.rep ?? null;
}

/** Elasticsearch's TrainedModelAssignment. Each Gantry host that runs workers of the deployment is a node. */
export function assignmentBody(d: MlDeployment): Record<string, unknown> {
  const routing = Object.fromEntries(
    d.nodes.map((n) => [
      n.nodeId,
      { current_allocations: n.currentAllocations, target_allocations: n.currentAllocations, routing_state: n.routingState, reason: n.reason },
    ]),
  );
  return {
    task_parameters: {
      model_id: d.modelId,
      deployment_id: d.deploymentId,
      model_bytes: d.modelBytes,
      threads_per_allocation: d.threads,
      number_of_allocations: d.targetAllocations,
      queue_capacity: d.queueCapacity,
      cache_size: d.cacheSize,
      priority: d.priority,
      per_deployment_memory_bytes: d.modelBytes,
      per_allocation_memory_bytes: 0,
    },
    routing_table: routing,
    assignment_state: d.state,
    ...(d.reason !== null ? { reason: d.reason } : {}),
    start_time: new Date(d.startTime).toISOString(),
    max_assigned_allocations: Math.max(d.allocations, d.targetAllocations),
    ...(d.adaptive !== null ? { adaptive_allocations: adaptiveBody(d.adaptive) } : {}),
  };
}

/** `number_of_allocations` from the query or the body (the JS client puts it in the body). */
function allocationsOf(q: Query, body: Record<string, unknown>, dflt: number | null): number | null {
  const b = body.number_of_allocations;
  if (b !== undefined && b !== null) {
    if (typeof b !== 'number' || !Number.isInteger(b)) throw invalid('[number_of_allocations] must be an integer', 'number_of_allocations');
    return b;
  }
  if (q.number_of_allocations === undefined) return dflt;
  return intParam(q, 'number_of_allocations', 1, Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER);
}

/**
 * The fields StartTrainedModelDeploymentAction.Request's body parser declares (an ObjectParser: any
 * other is 400 "unknown field"), with the deprecated names its ParseFields still match.
 */
const START_SCALAR_FIELDS = [
  'timeout',
  'wait_for',
  'threads_per_allocation',
  'inference_threads',
  'number_of_allocations',
  'model_threads',
  'queue_capacity',
  'priority',
] as const;
const START_BODY_FIELDS: ReadonlySet<string> = new Set([...START_SCALAR_FIELDS, 'model_id', 'deployment_id', 'cache_size', 'adaptive_allocations']);

/**
 * The `_start` parameters as RestStartTrainedModelDeploymentAction reads them: the body's fields,
 * each overridden by the query parameter of its name when given. The body's `deployment_id` is
 * overwritten by the query's or the model id (parseRequest always sets it), and its `model_id` must
 * be the path's. `cache_size` is read by cacheSizeOf, which compares body and query.
 */
function startParams(q: Query, body: Record<string, unknown>, modelId: string): Query {
  if (body.model_id !== undefined && body.model_id !== modelId)
    throw invalid(
      `Inconsistent model_id; '${typeof body.model_id === 'string' ? body.model_id : showValue(body.model_id)}' specified in the body differs from '${modelId}' specified as a URL argument`,
      'model_id',
    );
  const renamed: Record<string, string> = { inference_threads: 'threads_per_allocation', model_threads: 'number_of_allocations' };
  const fromBody: Record<string, unknown> = {};
  for (const name of START_SCALAR_FIELDS) {
    const v = body[name];
    if (v === undefined || v === null) continue;
    if (typeof v !== 'string' && typeof v !== 'number') throw invalid(`[${name}] must be a string or a number`, name);
    fromBody[renamed[name] ?? name] = String(v);
  }
  return { ...fromBody, ...q };
}

/** Start, update, stop and cache clear of trained-model deployments. */
export function elasticDeploymentRoutes(app: FastifyInstance, deps: EdgeDeps): void {
  const ml = deps.control.ml;

  app.post<{ Params: { model_id: string } }>('/_ml/trained_models/:model_id/deployment/_start', async (req) => {
    const body = objectBody(req.body, { optional: true });
    knownFields(body, START_BODY_FIELDS, 'start_trained_model_deployment');
    const q = startParams(req.query as Query, body, req.params.model_id);
    const big = Number.MAX_SAFE_INTEGER;
    const d = await ml.startDeployment(principal(req), {
      modelId: req.params.model_id,
      deploymentId: stringParam(q, 'deployment_id') ?? req.params.model_id,
      allocations: allocationsOf(q, {}, null),
      threads: intParam(q, 'threads_per_allocation', 1, -big, big),
      queueCapacity: intParam(q, 'queue_capacity', 1024, -big, big),
      priority: oneOf<Priority>(q, 'priority', ['normal', 'low'], 'normal'),
      cacheSize: cacheSizeOf(q, body),
      waitFor: oneOf<WaitFor>(q, 'wait_for', ['starting', 'started', 'fully_allocated'], 'started'),
      timeoutMs: durationParam(q, 'timeout', START_TIMEOUT_MS),
      adaptive: adaptiveSettings(adaptiveOf(body)),
      // Gantry only, for tests and benchmarks: each request takes this much longer in the worker.
      delayMs: intParam(q, 'gantry_inference_delay_ms', 0, 0, 600_000),
    });
    return { assignment: assignmentBody(d) };
  });

  app.post<{ Params: { deployment_id: string } }>('/_ml/trained_models/:deployment_id/deployment/_update', async (req) => {
    const q = req.query as Query;
    const body = objectBody(req.body, { optional: true });
    knownFields(body, new Set(['adaptive_allocations', 'number_of_allocations']), 'update_trained_model_deployment');
    const a = adaptiveOf(body);
    const d = await ml.updateDeployment(principal(req), req.params.deployment_id, {
      allocations: allocationsOf(q, body, null),
      adaptive: a === undefined ? null : a === null ? 'reset' : a,
    });
    return { assignment: assignmentBody(d) };
  });

  app.post<{ Params: { deployment_id: string } }>('/_ml/trained_models/:deployment_id/deployment/_stop', async (req, reply) => {
    const q = req.query as Query;
    const body = objectBody(req.body, { optional: true });
    knownFields(body, new Set(['id', 'allow_no_match', 'force', 'finish_pending_work', 'timeout']), 'stop_trained_model_deployment');
    const id = req.params.deployment_id;
    if (body.id !== undefined && body.id !== id)
      throw invalid(`Inconsistent id; '${showValue(body.id)}' specified in the body differs from '${id}' specified as a URL argument`, 'id');
    // The body wins over the query, as Elasticsearch's handler reads one or the other.
    const flag = (name: string, dflt: boolean): boolean => {
      const v = body[name];
      if (v === undefined) return boolParam(q, name, dflt);
      if (typeof v !== 'boolean') throw invalid(`[${name}] must be a boolean`, name);
      return v;
    };
    const drain =
      body.timeout !== undefined ? durationParam({ timeout: body.timeout }, 'timeout', 0) : q.timeout !== undefined ? durationParam(q, 'timeout', 0) : null;
    const r = await ml.stopDeployment(principal(req), {
      deploymentId: id,
      allowNoMatch: flag('allow_no_match', true),
      force: flag('force', false),
      finishPendingWork: flag('finish_pending_work', false),
      expandWildcards: boolParam(q, 'expand_wildcards', false),
      drainTimeoutMs: drain,
      timeoutMs: STOP_BOUND_MS,
    });
    const gantry = { stopped: r.stopped, drained: r.drained, failed: r.failed, rejected: r.rejected };
    if (r.failed + r.rejected > 0) {
      void reply.header(
        'warning',
        `299 Elasticsearch-9.1.0 "stopping [${id}] failed ${r.failed} and rejected ${r.rejected} pending inference requests (${r.drained} answered)"`,
      );
    }
    return { stopped: true, gantry };
  });

  app.post<{ Params: { deployment_id: string } }>('/_ml/trained_models/:deployment_id/deployment/cache/_clear', async (req) => {
    // Gantry keeps no inference cache; the call only checks that the deployment exists.
    const d = await ml.deployment(principal(req), req.params.deployment_id);
    if (d === undefined)
      throw new GantryError('DEPLOYMENT_NOT_FOUND', `No known model deployment with id [${req.params.deployment_id}]`, {
        deploymentId: req.params.deployment_id,
      });
    return { cleared: true };
  });
}
