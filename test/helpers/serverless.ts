import { fileURLToPath } from 'node:url';
import type { TestGantry } from './gantry.js';

/** The onstart that runs the test worker (test/fixtures/serverless-worker.ts) as a real process. */
export const WORKER_ONSTART = `exec ${process.execPath} ${fileURLToPath(new URL('../fixtures/serverless-worker.js', import.meta.url))}`;

/** The README's example worker (examples/echo-worker.mjs), so the documented example is what a test runs. */
export const EXAMPLE_ONSTART = `exec ${process.execPath} ${fileURLToPath(new URL('../../../examples/echo-worker.mjs', import.meta.url))}`;

/** Serverless timings shrunk for tests (every one a setting). */
export const SERVERLESS_FAST = {
  autoscaleIntervalMs: 150,
  autoscaleWindowMs: 1500,
  scaleDownDelayMs: 1000,
  workerDirectoryMs: 100,
  workerReportStaleMs: 5000,
  recruitBackoffMs: 500,
  serverlessQueueTimeoutMs: 30_000,
};

/**
 * Wait until `f` gives a value. The bound only says when to give up: it is wide because what is waited
 * for is an outcome, not a speed, and a machine busy with other work (two cores shared with the whole
 * suite) takes several times longer than a quiet one; a wait that ends returns at once.
 */
export async function until<T>(what: string, f: () => T | null | undefined | false | Promise<T | null | undefined | false>, timeoutMs = 90_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown = null;
  while (Date.now() < deadline) {
    try {
      const v = await f();
      if (v !== null && v !== undefined && v !== false) return v;
    } catch (err) {
      last = err;
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out waiting for ${what}${last instanceof Error ? `: ${last.message}` : ''}`);
}

export interface Worker {
  readonly id: number;
  readonly status: string;
  readonly url: string | null;
  readonly num_requests_working: number;
  readonly gantry_status: string;
}

export async function workersOf(g: TestGantry, endpointId: number): Promise<Worker[]> {
  const r = await g.api('POST', '/get_endpoint_workers/', { id: endpointId });
  if (r.status !== 200) throw new Error(`get_endpoint_workers: ${r.status} ${r.text}`);
  return r.body as Worker[];
}

/** A Vast deployment body: one test worker, always on (min and max one), on a one-GPU offer. */
export function oneWorkerDeployment(name: string): Record<string, unknown> {
  return { name, image: 'local/worker', onstart: WORKER_ONSTART, search_params: 'num_gpus=1', cold_workers: 0, min_workers: 1, max_workers: 1, target_util: 1 };
}

export async function createDeployment(g: TestGantry, name: string, params: Record<string, unknown>): Promise<{ id: number; endpointId: number; key: string }> {
  const r = await g.api('POST', '/api/v0/deployments/', {
    name,
    image: 'local/worker',
    onstart: WORKER_ONSTART,
    env: { WORKER_PERF: '2' },
    search_params: 'num_gpus=1',
    cold_workers: 0,
    min_workers: 0,
    target_util: 1,
    max_queue_time: 1,
    target_queue_time: 0.5,
    ...params,
  });
  if (r.status !== 200) throw new Error(`create deployment: ${r.status} ${r.text}`);
  return { id: r.body.deployment.id, endpointId: r.body.deployment.endpoint_id, key: r.body.deployment.api_key };
}

/** One proxied request; returns status and parsed body (never throws on HTTP errors). */
export async function call(
  g: TestGantry,
  name: string,
  path: string,
  o: { key?: string; body?: string; method?: string } = {},
): Promise<{ status: number; body: any; headers: Headers }> {
  const res = await fetch(`${g.url}/endpoints/${name}${path}`, {
    method: o.method ?? (o.body !== undefined ? 'POST' : 'GET'),
    headers: { authorization: `Bearer ${o.key ?? g.adminKey ?? ''}`, ...(o.body !== undefined ? { 'content-type': 'text/plain' } : {}) },
    body: o.body,
  });
  const text = await res.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    /* not JSON */
  }
  return { status: res.status, body, headers: res.headers };
}
