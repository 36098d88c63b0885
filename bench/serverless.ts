import { join } from 'node:path';
import { callApi, endDeployments, type LatencyRow, pct, spawnGantry, textTable, until, workerDeployment } from './util.js';

/**
 * Serverless benchmarks against a real `gantry up` process with real worker processes:
 *  - stop latency (call → every worker stopped) with requests in flight: without drain (baseline) vs
 *    with finish_pending_work;
 *  - the same with no request in flight, as soon as the deployment reads running and with its worker up a
 *    moment (the goal's row: a deployment at rest);
 *  - scale from zero, time to first answer: a warm request (baseline) vs starting an inactive worker
 *    vs creating a worker from nothing (the worker helper, which reports; a plain HTTP server, probed);
 *  - autoscale reaction: a load step → a second worker ready, beside a worker created from zero.
 */
const CYCLES = 3;
/** Samples per stop variant: more than the other rows' 3, as a stop's p50 is what its goal judges, and a stop costs a tenth of a second. */
const STOP_CYCLES = 8;
/** How long a deployment runs before the at-rest stops (see the stops with no request in flight). */
const SETTLE_MS = 500;
const KEY = 'gnt_bench_serverless_admin';

/** A worker that knows nothing of Gantry (readiness http): node's HTTP server on $WORKER_PORT, listening within tens of ms. */
const PLAIN_SERVER = `require('node:http').createServer((q, s) => s.end('ok')).listen(Number(process.env.WORKER_PORT ?? process.env.PORT))`;

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export async function serverlessBench(dir: string): Promise<LatencyRow[]> {
  const port = 19000 + Math.floor(Math.random() * 1000);
  const url = `http://127.0.0.1:${port}`;
  const gantry = await spawnGantry(['up', '--port', String(port), '--data-dir', join(dir, 'sl'), '--gpus', '4x RTX 4090:24GB', '--runtime', 'process'], {
    GANTRY_ADMIN_KEY: KEY,
    // Default loop intervals (what a user gets); only scale-down is shortened, so the from-zero cycles do not wait minutes.
    GANTRY_AUTOSCALE_WINDOW_MS: '1000',
    GANTRY_SCALE_DOWN_DELAY_MS: '1000',
    GANTRY_STOP_GRACE_MS: '3000',
    GANTRY_PORT_RANGE_START: '43000',
    GANTRY_PORT_RANGE_END: '43099',
    // The bench's own server: its polling is not throttled by the default rate limit.
    GANTRY_RATE_LIMIT: '0',
  });
  const api = (method: string, path: string, body?: unknown): Promise<any> => callApi(url, KEY, method, path, body);
  const deployments: number[] = [];
  try {
    const deploy = async (name: string, params: Record<string, unknown>): Promise<{ id: number; endpointId: number }> => {
      const r = await api('POST', '/api/v0/deployments/', workerDeployment(name, params));
      if (r.success !== true) throw new Error(`bench: create deployment: ${JSON.stringify(r)}`);
      deployments.push(r.deployment.id as number);
      return { id: r.deployment.id as number, endpointId: r.deployment.endpoint_id as number };
    };
    const workers = async (endpointId: number): Promise<{ id: number; status: string; url: string }[]> =>
      await api('POST', '/get_endpoint_workers/', { id: endpointId });
    const ready = (endpointId: number): Promise<{ url: string }> => until(async () => (await workers(endpointId)).find((w) => w.status === 'Ready') ?? null);
    const status = async (id: number): Promise<string> => (await api('GET', `/api/v0/deployment/${id}/`)).deployment.gantry_status as string;
    const timed = async (f: () => Promise<unknown>): Promise<number> => {
      const t = process.hrtime.bigint();
      await f();
      return Number(process.hrtime.bigint() - t) / 1e6;
    };
    const proxied = (name: string, path: string): Promise<Response> =>
      fetch(`${url}/endpoints/${name}${path}`, { headers: { authorization: `Bearer ${KEY}` } });

    const s = await deploy('stops', { min_load: 1 });
    // ── warm request latency (baseline of scale-from-zero) ───────────
    await ready(s.endpointId);
    const warm: number[] = [];
    for (let i = 0; i < 20; i++) warm.push(await timed(() => proxied('stops', '/warm').then((r) => r.text())));

    // ── stop latency with requests in flight ─────────────────────────
    const stopTimes = { plain: [] as number[], drain: [] as number[] };
    // Each stop begins from a running deployment: a Ready worker alone may still be mid-start (the
    // deployment not yet recorded running), which measures a stop of a start, not of a deployment at rest.
    const running = async (): Promise<void> => {
      await ready(s.endpointId);
      await until(async () => (await status(s.id)) === 'running');
    };
    for (let i = 0; i < STOP_CYCLES * 2; i++) {
      const drain = i % 2 === 1;
      await running();
      const inflight = Array.from({ length: 4 }, () =>
        proxied('stops', '/w?ms=300')
          .then((r) => r.text())
          .catch(() => ''),
      );
      await sleep(50);
      const t = await timed(async () => {
        await api('POST', `/api/v0/deployment/${s.id}/stop/`, { finish_pending_work: drain });
        await until(async () => (await status(s.id)) === 'stopped');
      });
      await Promise.all(inflight);
      (drain ? stopTimes.drain : stopTimes.plain).push(t);
      await api('POST', `/api/v0/deployment/${s.id}/start/`);
    }

    // ── stop latency with no request in flight ───────────────────────
    // Twice: as soon as the deployment reads running, and with its worker up for SETTLE_MS first (as a deployment
    // at rest is). A worker stopped within a fraction of a second of its start lingered 100 ms and more in its
    // exit while the worker helper's reports went through fetch (undici); since they go through node:http, the
    // two rows are alike.
    const idleStops = { plain: [] as number[], drain: [] as number[] };
    const settledStops = { plain: [] as number[], drain: [] as number[] };
    for (let i = 0; i < STOP_CYCLES * 4; i++) {
      const drain = i % 2 === 1;
      const settled = i >= STOP_CYCLES * 2;
      await running();
      if (settled) await sleep(SETTLE_MS);
      const t = await timed(async () => {
        await api('POST', `/api/v0/deployment/${s.id}/stop/`, { finish_pending_work: drain });
        await until(async () => (await status(s.id)) === 'stopped');
      });
      const into = settled ? settledStops : idleStops;
      (drain ? into.drain : into.plain).push(t);
      await api('POST', `/api/v0/deployment/${s.id}/start/`);
    }

    // ── scale from zero: start an inactive worker, or create one ─────
    const fromInactive: number[] = [];
    for (let i = 0; i < CYCLES; i++) {
      await ready(s.endpointId);
      await api('POST', `/api/v0/deployment/${s.id}/stop/`);
      await until(async () => (await status(s.id)) === 'stopped');
      fromInactive.push(
        await timed(async () => {
          await api('POST', `/api/v0/deployment/${s.id}/start/`);
          const r = await proxied('stops', '/first');
          if (r.status !== 200) throw new Error(`bench: first answer ${r.status}`);
          await r.text();
        }),
      );
    }
    const z = await deploy('zero', { min_load: 0, inactivity_timeout: 1 });
    const fromNothing: number[] = [];
    for (let i = 0; i < CYCLES; i++) {
      await until(async () => (await workers(z.endpointId)).length === 0);
      fromNothing.push(
        await timed(async () => {
          const r = await proxied('zero', '/first');
          if (r.status !== 200) throw new Error(`bench: first answer ${r.status}`);
          await r.text();
        }),
      );
    }
    // A plain HTTP server (readiness http: probed, no reports) that listens within tens of milliseconds.
    const p = await deploy('plain', {
      min_load: 0,
      inactivity_timeout: 1,
      readiness: 'http',
      onstart: undefined,
      entrypoint: process.execPath,
      args: ['-e', PLAIN_SERVER],
    });
    const fromNothingPlain: number[] = [];
    for (let i = 0; i < CYCLES; i++) {
      await until(async () => (await workers(p.endpointId)).length === 0);
      fromNothingPlain.push(
        await timed(async () => {
          const r = await proxied('plain', '/first');
          if (r.status !== 200) throw new Error(`bench: first answer ${r.status}`);
          await r.text();
        }),
      );
    }
    // ── autoscale: a load step → a second worker ready ─────────────────
    // Each worker carries 20 load units/s; 16 callers of 50 ms requests offer about 300. The workers of
    // the from-zero deployments leave first (inactivity), so the step's second worker finds a GPU.
    await until(async () => (await workers(z.endpointId)).length + (await workers(p.endpointId)).length === 0);
    const st = await deploy('step', { min_load: 1, max_workers: 2, env: { WORKER_PERF: '20' } });
    const readyCount = async (): Promise<number> => (await workers(st.endpointId)).filter((w) => w.status === 'Ready').length;
    const reactions: number[] = [];
    for (let i = 0; i < CYCLES; i++) {
      await until(async () => (await readyCount()) === 1, 120_000);
      let loading = true;
      const callers = Array.from({ length: 16 }, async () => {
        while (loading)
          await proxied('step', '/s?ms=50').then(
            (r) => r.text(),
            () => '',
          );
      });
      reactions.push(await timed(() => until(async () => (await readyCount()) === 2)));
      loading = false;
      await Promise.all(callers);
    }
    const lat = (bench: string, variant: string, xs: number[], base: number[]): LatencyRow => ({
      bench,
      variant,
      n: xs.length,
      p50Ms: pct(xs, 50),
      p99Ms: pct(xs, 99),
      ratioP50: pct(xs, 50) / pct(base, 50),
    });
    const latency = [
      lat('stop → all workers stopped (4 requests of 300 ms in flight)', 'stop, no drain (baseline)', stopTimes.plain, stopTimes.plain),
      lat('stop → all workers stopped (4 requests of 300 ms in flight)', 'stop with finish_pending_work', stopTimes.drain, stopTimes.plain),
      lat('stop → all workers stopped (no request in flight, as soon as it reads running)', 'stop, no drain (baseline)', idleStops.plain, idleStops.plain),
      lat('stop → all workers stopped (no request in flight, as soon as it reads running)', 'stop with finish_pending_work', idleStops.drain, idleStops.plain),
      lat(`stop → all workers stopped (no request in flight, worker up ${SETTLE_MS} ms)`, 'stop, no drain (baseline)', settledStops.plain, settledStops.plain),
      lat(
        `stop → all workers stopped (no request in flight, worker up ${SETTLE_MS} ms)`,
        'stop with finish_pending_work',
        settledStops.drain,
        settledStops.plain,
      ),
      lat('time to first answer', 'warm worker through the proxy (baseline)', warm, warm),
      lat('time to first answer', 'start after stop: inactive worker starts', fromInactive, warm),
      lat('time to first answer', 'scale from zero: a worker is created', fromNothing, warm),
      lat('time to first answer', 'scale from zero: a plain HTTP worker (probed) is created', fromNothingPlain, warm),
      lat('a new worker ready', 'from zero: a worker is created and answers (baseline)', fromNothing, fromNothing),
      lat('a new worker ready', 'autoscale: a load step (16 callers, about 15x one worker) → a second worker ready', reactions, fromNothing),
    ];
    return latency;
  } finally {
    // Destroy what the bench started and wait until no instance is left (its processes ended), then stop Gantry.
    await endDeployments(gantry, api, deployments, 120_000);
  }
}

export function printServerless(latency: readonly LatencyRow[]): void {
  process.stdout.write(
    textTable(
      ['benchmark', 'variant', 'n', 'p50 ms', 'p99 ms', 'p50 ratio'],
      latency.map((l) => [l.bench, l.variant, String(l.n), l.p50Ms.toFixed(1), l.p99Ms.toFixed(1), `${(l.ratioP50 ?? 1).toFixed(1)}x`]),
    ),
  );
}
