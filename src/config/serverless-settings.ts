import type { Setting } from './schema.js';

/**
 * The serverless engine's settings (autoscaler, workers, gateway queue, code deployments, drains): part of
 * SETTINGS (schema.ts, which checks their shape), kept here so that table stays short.
 */
export const SERVERLESS_SETTINGS = {
  autoscaleIntervalMs: {
    type: 'duration',
    min: 1,
    default: 1_000,
    doc: 'How often the serverless loop looks at every endpoint (autoscaling, stop and drain), but a resting one (stoppedEndpointRecheckMs, idleEndpointRecheckMs).',
  },
  stoppedEndpointRecheckMs: {
    type: 'duration',
    min: 1,
    default: 60_000,
    doc: 'A stopped endpoint with nothing left to do rests: the serverless loop passes it this often instead of every autoscaleIntervalMs. A start, a delete, a change of its workergroups or of its configuration ends the rest at once, at every replica (the rest is kept in the store); a deployment ttl that runs out meanwhile still acts when it falls.',
  },
  idleEndpointRecheckMs: {
    type: 'duration',
    min: 1,
    default: 60_000,
    doc: "A running endpoint scaled to zero (no worker at all, or only cold ones kept in reserve) with nothing to recruit, start or stop and no request waiting rests: the serverless loop passes it this often instead of every autoscaleIntervalMs. A request held by any replica's gateway, a /route/ call answered without a worker, a change of its settings, workergroups or configuration, a stop or a delete, and a change of one of its cold workers (stopped, started or destroyed by its owner, a new status) end the rest at once; a deployment ttl or a code deployment's heartbeat deadline still acts when it falls.",
  },
  autoscaleWindowMs: {
    type: 'duration',
    default: 30_000,
    doc: 'The autoscaler plans for the peak load of this window (longer than the metric period, so it does not flap).',
  },
  scaleDownDelayMs: { type: 'duration', default: 60_000, doc: 'A lower worker target must hold this long before workers are stopped or destroyed.' },
  samplerIntervalMs: {
    type: 'duration',
    min: 1,
    default: 10_000,
    doc: "How often the sampler records the console's time series (spend, GPU utilisation, requests per second, queue depth); also the length of one bucket.",
  },
  samplesRetentionMs: { type: 'duration', default: 604_800_000, doc: 'Samples older than this are deleted by housekeeping (default 7 days).' },
  recruitBackoffMs: { type: 'duration', default: 10_000, doc: 'After no offer matched a workergroup, wait this long before searching again.' },
  workerReportStaleMs: {
    type: 'duration',
    default: 30_000,
    doc: "A worker report older than this no longer counts (its load and its busy requests are ignored), and a running worker silent this long is an error, replaced. For this long after a control plane starts listening, or after its database was last unavailable, a worker's last report still counts: it had nowhere to report, or its reports could not be stored.",
  },
  workerProbeTimeoutMs: {
    type: 'duration',
    default: 2_000,
    doc: 'Bound on one readiness probe of a plain-HTTP worker (readiness http): no HTTP answer within it counts as not ready. Probes run on every serverless pass, so keep it below leaseMs; autoscaleIntervalMs must stay below workerReportStaleMs for probe reports to stay fresh.',
  },
  workerReadyTimeoutMs: {
    type: 'duration',
    default: 600_000,
    doc: 'A worker running this long without becoming ready (no loaded report, or a failed readiness probe) is in Error and replaced.',
  },
  workerOfflineGraceMs: {
    type: 'duration',
    default: 120_000,
    doc: 'How long a worker whose host went offline (its instance `unknown`, after machineOfflineMs of silence) is waited for before it is replaced. Meanwhile it serves nothing and is not counted as capacity, keeps its place under max_workers and is not destroyed: an agent that comes back (restarted, or its replica gone) keeps its workers and their loaded models.',
  },
  workerFailuresBeforeDead: {
    type: 'integer',
    default: 3,
    doc: 'Worker failures (an exit or a failed start) an endpoint may have without any of its workers becoming ready before it is marked failed (AI Core DEAD) and recruits no more; 0 never marks it.',
  },
  serverlessQueueTimeoutMs: {
    type: 'duration',
    default: 60_000,
    doc: 'Longest time a proxied request waits for a worker (also while scaling from zero); then 504 QUEUE_TIMEOUT.',
  },
  serverlessRequestTimeoutMs: {
    type: 'duration',
    default: 300_000,
    doc: 'Longest time a worker may take to answer a proxied request; then 504 WORKER_TIMEOUT.',
  },
  deploymentTtlMinimumMs: {
    type: 'duration',
    default: 600_000,
    doc: 'Shortest time to live a deployment may be given (AI Core advertises 10m).',
  },
  codeBlobDir: {
    type: 'optional-string',
    default: null,
    doc: "Where code deployments' uploaded code is stored, one file per account and file_hash; default: <dataDir>/blobs. Replicas must share it.",
  },
  codeVersionsKept: {
    type: 'integer',
    default: 5,
    doc: 'Code versions kept per deployment; older ones are evicted (their blobs deleted when no other version holds them).',
  },
  codeUploadMaxBytes: {
    type: 'integer',
    default: 536_870_912,
    doc: 'Largest code upload accepted (bytes, the whole multipart body); a larger one is refused and nothing is stored.',
  },
  codeUploadTokenTtlMs: {
    type: 'duration',
    default: 3_600_000,
    doc: 'How long the upload token a deployment PUT answers stays good (it is also good for one upload only).',
  },
  codeDownloadUrlTtlMs: { type: 'duration', default: 600_000, doc: "How long a code deployment's download_url stays good (workers fetch it right away)." },
  codeHeartbeatTtlMinimumS: { type: 'integer', default: 10, doc: "Shortest client heartbeat ttl (seconds) a code deployment may be given (the SDK's ttl)." },
  codeWorkerPython: {
    type: 'string',
    default: 'python3',
    doc: "Python that runs a code deployment's worker bootstrap (Vast's serve_deployment) on the process runtime; it must import the SDK's `vastai` package. Given to each worker as it starts. In the process sandbox, a Python under /tmp or the home folder has its prefix (a virtual environment) bound in read-only.",
  },
  codeWorkerPythonPath: {
    type: 'optional-string',
    default: null,
    doc: "PYTHONPATH put before the worker's own for that Python (where the `vastai` package lives, when it is not installed); default: none. Given to each worker as it starts; in the process sandbox its folders are bound in read-only, wherever they are.",
  },
  stopDrainTimeoutMs: {
    type: 'duration',
    default: 60_000,
    doc: "Default bound on a deployment stop's drain (finish_pending_work) when the call gives no timeout.",
  },
  endpointWaitPollMs: {
    type: 'duration',
    min: 1,
    default: 1_000,
    doc: "How often a wait for an endpoint's status (Elasticsearch's wait_for) reads the store again for passes other replicas ran; this replica's passes wake it at once.",
  },
  workerDirectoryMs: {
    type: 'duration',
    default: 250,
    doc: "How long the gateway reuses an endpoint's worker list before reading it again. A safety net: stops, starts and workers that become ready, at any replica, reach the gateway at once through the change feed.",
  },
} as const satisfies Record<string, Setting>;
