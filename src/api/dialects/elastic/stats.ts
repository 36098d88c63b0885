import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { MlDeployment } from '../../../control/ml/deployments.js';
import type { MlStatsEntry } from '../../../control/ml/stats.js';
import type { InferenceCounters } from '../../../control/serverless/traffic-gate.js';
import type { WorkerPhase } from '../../../domain/serverless/workers.js';
import type { EdgeDeps } from '../../edge/dialect.js';
import { principal } from '../../edge/principal.js';
import { parseByteSize, printByteSize } from './byte-size.js';
import { adaptiveBody } from './deployments.js';
import { boolParam, intParam, type Query } from './query.js';

/** Native memory Elasticsearch would reserve: the definition plus a fixed overhead per deployment (an estimate; Gantry reserves none). */
const OVERHEAD_BYTES = 240 * 1024 * 1024;

function inferenceStats(c: InferenceCounters | null, now: number): Record<string, unknown> {
  return {
    inference_count: c?.inferenceCount ?? 0,
    failure_count: c?.errorCount ?? 0,
    cache_miss_count: 0,
    missing_all_fields_count: 0,
    timestamp: now,
  };
}

/**
 * `allocation_status`, shown as Elasticsearch's deployment stats show it: only while the assignment is
 * starting or started (TransportGetDeploymentStatsAction sets it for those states alone, and
 * AssignmentStats leaves a null one out). A failed or stopping deployment has none: its workers are not
 * allocations on their way up, so "starting, 0 of 1" would say the opposite of its state.
 */
export function allocationStatus(d: Pick<MlDeployment, 'state' | 'allocations' | 'targetAllocations'>): { allocation_status?: Record<string, unknown> } {
  if (d.state !== 'starting' && d.state !== 'started') return {};
  return {
    allocation_status: {
      allocation_count: d.allocations,
      target_allocation_count: d.targetAllocations,
      // None wanted and none there is fully allocated (AllocationStatus.calculateState since ES PR #114570).
      state: d.allocations === 0 && d.targetAllocations > 0 ? 'starting' : d.allocations >= d.targetAllocations ? 'fully_allocated' : 'started',
    },
  };
}

function entryBody(e: MlStatsEntry, now: number): Record<string, unknown> {
  const bytes = e.model.totalDefinitionLength ?? e.model.declaredSizeBytes;
  const out: Record<string, unknown> = {
    model_id: e.model.modelId,
    model_size_stats: { model_size_bytes: bytes, required_native_memory_bytes: bytes * 2 + OVERHEAD_BYTES },
    pipeline_count: e.pipelineCount,
    inference_stats: inferenceStats(e.counters, now),
    ingest: { total: { count: 0, time_in_millis: 0, current: 0, failed: 0 }, pipelines: {} },
  };
  const d = e.deployment;
  const c = e.counters;
  if (d === null || c === null) return out;
  out.deployment_stats = {
    deployment_id: d.deploymentId,
    model_id: d.modelId,
    state: d.state,
    ...(d.reason !== null ? { reason: d.reason } : {}),
    ...allocationStatus(d),
    number_of_allocations: d.targetAllocations,
    threads_per_allocation: d.threads,
    queue_capacity: d.queueCapacity,
    // The assignment writes the size as given (getStringRep); the stats write ByteSizeValue.toString.
    cache_size: printByteSize(parseByteSize(d.cacheSize, 'cache_size').bytes),
    priority: d.priority,
    start_time: d.startTime,
    inference_count: c.inferenceCount,
    error_count: c.errorCount,
    rejected_execution_count: c.rejectedExecutionCount,
    timeout_count: c.timeoutCount,
    peak_throughput_per_minute: c.peakThroughputPerMinute,
    ...(d.adaptive !== null ? { adaptive_allocations: adaptiveBody(d.adaptive) } : {}),
    nodes: e.workers.map((w) => {
      const node = d.nodes.find((n) => n.nodeId === `gantry-host-${w.worker.instance.machineId}`);
      const k = w.counters;
      const nodeId = node?.nodeId ?? `gantry-host-${w.worker.instance.machineId}`;
      return {
        node: {
          [nodeId]: {
            name: node?.name ?? nodeId,
            ephemeral_id: `${nodeId}-worker-${w.worker.instance.id}`,
            transport_address: `${node?.address ?? '127.0.0.1'}:9300`,
            external_id: node?.name ?? nodeId,
            attributes: { 'gantry.instance_id': String(w.worker.instance.id) },
            roles: ['ml'],
            version: '9.1.0',
            min_index_version: 8000099,
            max_index_version: 9009000,
          },
        },
        routing_state: { routing_state: routingState(d.state, w.worker.phase) },
        number_of_allocations: 1,
        threads_per_allocation: d.threads,
        inference_count: k.inferenceCount,
        error_count: k.errorCount,
        rejected_execution_count: k.rejectedExecutionCount,
        timeout_count: k.timeoutCount,
        number_of_pending_requests: k.pendingRequests,
        average_inference_time_ms: k.averageInferenceTimeMs,
        average_inference_time_ms_last_minute: k.averageInferenceTimeMsLastMinute,
        average_inference_time_ms_excluding_cache_hits: k.averageInferenceTimeMs,
        inference_cache_hit_count: 0,
        inference_cache_hit_count_last_minute: 0,
        ...(k.lastAccess !== null ? { last_access: k.lastAccess } : {}),
        ...(k.startTime !== null ? { start_time: k.startTime } : {}),
        peak_throughput_per_minute: k.peakThroughputPerMinute,
        throughput_last_minute: k.throughputLastMinute,
        average_inference_process_memory_rss_bytes: 0,
      };
    }),
  };
  return out;
}

/** `GET _ml/trained_models[/{ids}]/_stats`: one entry per deployment plus one per model without one. */
export function elasticStatsRoutes(app: FastifyInstance, deps: EdgeDeps): void {
  const handler = async (req: FastifyRequest, ids: string | null): Promise<unknown> => {
    const q = req.query as Query;
    const r = await deps.control.ml.stats(principal(req), {
      ids,
      allowNoMatch: boolParam(q, 'allow_no_match', true),
      from: intParam(q, 'from', 0, 0, 10_000),
      size: intParam(q, 'size', 100, 0, 10_000),
    });
    const now = Date.now();
    return { count: r.count, trained_model_stats: r.entries.map((e) => entryBody(e, now)) };
  };
  app.get('/_ml/trained_models/_stats', async (req) => handler(req, null));
  app.get<{ Params: { model_id: string } }>('/_ml/trained_models/:model_id/_stats', async (req) => handler(req, req.params.model_id));
}

/** A node's routing state: a stopping deployment stops every node (Elasticsearch's `stopping`, then `stopped`). */
function routingState(deployment: string, phase: WorkerPhase): string {
  if (phase === 'inactive') return 'stopped';
  if (deployment === 'stopping' || phase === 'stopping' || phase === 'destroying') return 'stopping';
  return phase === 'ready' ? 'started' : phase === 'error' ? 'failed' : 'starting';
}
