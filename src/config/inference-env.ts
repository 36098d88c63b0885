import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { parseDuration } from './load.js';

/**
 * What `gantry inference-worker` reads from its environment. The engine sets REPORT_ADDR, MASTER_TOKEN,
 * CONTAINER_ID and WORKER_PORT on every worker (src/control/instances/workload-spec.ts); the
 * Elasticsearch dialect adds the GANTRY_* ones to the allocation's template.
 */
export interface InferenceWorkerEnv {
  /** Where load is reported and the signing key is read: the control plane's URL, under the worker's endpoint (REPORT_ADDR). */
  readonly reportAddr: string;
  /** The control plane's URL (GANTRY_URL, else REPORT_ADDR): the model is fetched from it. */
  readonly apiUrl: string;
  readonly masterToken: string;
  readonly workerId: number;
  /** 0 picks a free port (local use). */
  readonly port: number;
  /** The model id the allocation serves, for logs; the control plane says which model by the worker's credentials. */
  readonly modelId: string | null;
  /** Elasticsearch's threads_per_allocation, as onnxruntime's intraOpNumThreads. @default 1 */
  readonly threads: number;
  /** Extra time per request: a test and benchmark knob that makes a "slow model". @default 0 */
  readonly delayMs: number;
  /** How long to keep trying to fetch the model while the control plane is not ready. @default 60s */
  readonly fetchTimeoutMs: number;
  readonly logLevel: string;
}

function count(env: NodeJS.ProcessEnv, key: string, fallback: number, min: number): number {
  const raw = env[key];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min) throw new Error(`${key} must be an integer of at least ${min}, not ${JSON.stringify(raw)}`);
  return n;
}

export function inferenceWorkerEnv(env: NodeJS.ProcessEnv = process.env): InferenceWorkerEnv {
  const reportAddr = env.REPORT_ADDR ?? '';
  if (reportAddr === '') throw new Error('gantry inference-worker runs as the workload of an allocation: REPORT_ADDR (the control plane URL) is not set.');
  const fetchTimeout = env.GANTRY_MODEL_FETCH_TIMEOUT;
  return {
    reportAddr,
    apiUrl: env.GANTRY_URL !== undefined && env.GANTRY_URL !== '' ? env.GANTRY_URL : reportAddr,
    masterToken: env.MASTER_TOKEN ?? '',
    workerId: count(env, 'CONTAINER_ID', 0, 0),
    port: count(env, 'WORKER_PORT', 0, 0),
    modelId: env.GANTRY_MODEL_ID !== undefined && env.GANTRY_MODEL_ID !== '' ? env.GANTRY_MODEL_ID : null,
    threads: count(env, 'GANTRY_THREADS', 1, 1),
    delayMs: count(env, 'GANTRY_INFERENCE_DELAY_MS', 0, 0),
    fetchTimeoutMs: fetchTimeout !== undefined && fetchTimeout !== '' ? parseDuration(fetchTimeout) : 60_000,
    logLevel: env.GANTRY_LOG_LEVEL !== undefined && env.GANTRY_LOG_LEVEL !== '' ? env.GANTRY_LOG_LEVEL : 'info',
  };
}

/**
 * The worker's temporary files in its own folder (`.tmp` in its working folder, the instance's disk), before
 * onnxruntime loads: its native library opens a log file (`mat-debug-<pid>.log`, empty) in the temporary folder
 * of every process that loads it, which left one in the host's /tmp per worker start. Removed with the instance.
 */
export function ownTempFolder(cwd = process.cwd()): string {
  const tmp = join(cwd, '.tmp');
  mkdirSync(tmp, { recursive: true, mode: 0o700 });
  process.env.TMPDIR = tmp;
  return tmp;
}
