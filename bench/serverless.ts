import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Pool } from 'undici';
import { callApi, pct, spawnGantry, textTable, type LatencyRow } from './util.js';

/**
 * Serverless benchmarks against a real `gantry up` process with real worker processes:
 *  - request throughput and latency: calling the worker directly (baseline) vs through Gantry's proxy
 *    vs through nginx `proxy_pass` (keep-alive upstream), same worker, same concurrency, one run;
 *  - stop latency (call → every worker stopped) with requests in flight: without drain (baseline) vs
 *    with finish_pending_work;
 *  - the same with no request in flight;
 *  - scale from zero, time to first answer: a warm request (baseline) vs starting an inactive worker
 *    vs creating a worker from nothing (the worker helper, which reports; a plain HTTP server, probed);
 *  - autoscale reaction: a load step → a second worker ready, beside a worker created from zero.
 */
export interface ThroughputRow {
  readonly bench: string;
  readonly variant: string;
  readonly requests: number;
  readonly reqPerS: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly ratioReqPerS: number | null;
}

const WORKER = fileURLToPath(new URL('../test/fixtures/serverless-worker.js', import.meta.url));
const CONCURRENCY = 32;
const DURATION_MS = 5_000;
const CYCLES = 3;
const KEY = 'gnt_bench_serverless_admin';

/** A worker that knows nothing of Gantry (readiness http): node's HTTP server on $WORKER_PORT, listening within tens of ms. */
const PLAIN_SERVER = `require('node:http').createServer((q, s) => s.end('ok')).listen(Number(process.env.WORKER_PORT ?? process.env.PORT))`;

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function until<T>(f: () => Promise<T | null | false>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await f();
    if (v !== null && v !== false) return v;
    if (Date.now() > deadline) throw new Error('bench: timed out waiting');
    await sleep(5);
  }
}

/** Closed-loop load: CONCURRENCY callers for DURATION_MS, each sending the next request when the last answered. */
export async function load(origin: string, path: string, headers: Record<string, string>): Promise<{ n: number; perS: number; p50: number; p99: number }> {
  const pool = new Pool(origin, { connections: CONCURRENCY, pipelining: 1 });
  const one = async (): Promise<number> => {
    const t = process.hrtime.bigint();
    const res = await pool.request({ method: 'GET', path, headers });
    await res.body.text();
    if (res.statusCode !== 200) throw new Error(`bench: ${origin}${path} answered ${res.statusCode}`);
    return Number(process.hrtime.bigint() - t) / 1e6;
  };
  const warmEnd = Date.now() + 1000;
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (Date.now() < warmEnd) await one();
    }),
  );
  const times: number[] = [];
  const start = Date.now();
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (Date.now() - start < DURATION_MS) times.push(await one());
    }),
  );
  const elapsed = (Date.now() - start) / 1000;
  await pool.close();
  return { n: times.length, perS: times.length / elapsed, p50: pct(times, 50), p99: pct(times, 99) };
}

/** nginx from Debian, installed on first use when running as root; null (with the reason printed) when unavailable. */
function nginxBinary(): string | null {
  const which = (): string | null => {
    const r = spawnSync('sh', ['-c', 'command -v nginx || ls /usr/sbin/nginx 2>/dev/null'], { encoding: 'utf8' });
    return r.stdout.trim().split('\n')[0] || null;
  };
  if (which() !== null) return which();
  if (process.getuid?.() === 0) {
    process.stdout.write('installing nginx (apt-get install -y nginx) for the proxy baseline…\n');
    spawnSync(
      'sh',
      [
        '-c',
        'DEBIAN_FRONTEND=noninteractive apt-get install -y nginx >/dev/null 2>&1 || (apt-get update >/dev/null 2>&1 && DEBIAN_FRONTEND=noninteractive apt-get install -y nginx >/dev/null 2>&1)',
      ],
      { stdio: 'inherit' },
    );
  }
  return which();
}

async function startNginx(dir: string, upstreamPort: number, port: number): Promise<ChildProcess | null> {
  const bin = nginxBinary();
  if (bin === null) {
    process.stdout.write('nginx baseline skipped: nginx is not installed and cannot be installed here\n');
    return null;
  }
  await mkdir(join(dir, 'tmp'), { recursive: true });
  const conf = join(dir, 'nginx.conf');
  await writeFile(
    conf,
    `worker_processes 1;
daemon off;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path ${dir}/tmp/body; proxy_temp_path ${dir}/tmp/proxy; fastcgi_temp_path ${dir}/tmp/fcgi;
  uwsgi_temp_path ${dir}/tmp/uwsgi; scgi_temp_path ${dir}/tmp/scgi;
  upstream worker { server 127.0.0.1:${upstreamPort}; keepalive 64; }
  server {
    listen 127.0.0.1:${port};
    location / { proxy_pass http://worker; proxy_http_version 1.1; proxy_set_header Connection ""; }
  }
}
`,
  );
  const child = spawn(bin, ['-c', conf, '-p', dir], { stdio: 'ignore' });
  await until(
    async () =>
      (await fetch(`http://127.0.0.1:${port}/`)
        .then(() => true)
        .catch(() => false)) || null,
    10_000,
  );
  return child;
}

export async function serverlessBench(dir: string): Promise<{ throughput: ThroughputRow[]; latency: LatencyRow[] }> {
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
  let nginx: ChildProcess | null = null;
  try {
    const deploy = async (name: string, params: Record<string, unknown>): Promise<{ id: number; endpointId: number }> => {
      const r = await api('POST', '/api/v0/deployments/', {
        name,
        image: 'local/worker',
        onstart: `exec ${process.execPath} ${WORKER}`,
        env: { WORKER_PERF: '1000' },
        search_params: 'num_gpus=1',
        cold_workers: 0,
        min_workers: 0,
        max_workers: 1,
        target_util: 1,
        max_queue_time: 1000,
        ...params,
      });
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

    // ── throughput: direct vs Gantry vs nginx ───────────────────────
    const d = await deploy('tput', { min_load: 1 });
    const w = await ready(d.endpointId);
    const routed = await api('POST', '/route/', { endpoint: 'tput', cost: 1 });
    const signed = { 'x-gantry-url': String(routed.url), 'x-gantry-signature': String(routed.signature), 'x-gantry-cost': '1' };
    const direct = await load(w.url, '/x', signed);
    const viaGantry = await load(url, '/endpoints/tput/x', { authorization: `Bearer ${KEY}` });
    const nginxPort = port + 1000;
    nginx = await startNginx(join(dir, 'nginx'), Number(new URL(w.url).port), nginxPort);
    const viaNginx = nginx === null ? null : await load(`http://127.0.0.1:${nginxPort}`, '/x', signed);
    const row = (variant: string, r: { n: number; perS: number; p50: number; p99: number }): ThroughputRow => ({
      bench: `proxy, ${CONCURRENCY} concurrent`,
      variant,
      requests: r.n,
      reqPerS: r.perS,
      p50Ms: r.p50,
      p99Ms: r.p99,
      ratioReqPerS: r.perS / direct.perS,
    });
    const throughput = [
      row('worker directly (baseline)', direct),
      row('Gantry /endpoints/ proxy', viaGantry),
      ...(viaNginx ? [row('nginx proxy_pass', viaNginx)] : []),
    ];

    // ── warm request latency (baseline of scale-from-zero) ───────────
    const warm: number[] = [];
    for (let i = 0; i < 20; i++) warm.push(await timed(() => proxied('tput', '/warm').then((r) => r.text())));

    // ── stop latency with requests in flight ─────────────────────────
    const s = await deploy('stops', { min_load: 1 });
    const stopTimes = { plain: [] as number[], drain: [] as number[] };
    for (let i = 0; i < CYCLES * 2; i++) {
      const drain = i % 2 === 1;
      await ready(s.endpointId);
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
    const idleStops = { plain: [] as number[], drain: [] as number[] };
    for (let i = 0; i < CYCLES * 2; i++) {
      const drain = i % 2 === 1;
      await ready(s.endpointId);
      const t = await timed(async () => {
        await api('POST', `/api/v0/deployment/${s.id}/stop/`, { finish_pending_work: drain });
        await until(async () => (await status(s.id)) === 'stopped');
      });
      (drain ? idleStops.drain : idleStops.plain).push(t);
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
      lat('stop → all workers stopped (no request in flight)', 'stop, no drain (baseline)', idleStops.plain, idleStops.plain),
      lat('stop → all workers stopped (no request in flight)', 'stop with finish_pending_work', idleStops.drain, idleStops.plain),
      lat('time to first answer', 'warm worker through the proxy (baseline)', warm, warm),
      lat('time to first answer', 'start after stop: inactive worker starts', fromInactive, warm),
      lat('time to first answer', 'scale from zero: a worker is created', fromNothing, warm),
      lat('time to first answer', 'scale from zero: a plain HTTP worker (probed) is created', fromNothingPlain, warm),
      lat('a new worker ready', 'from zero: a worker is created and answers (baseline)', fromNothing, fromNothing),
      lat('a new worker ready', 'autoscale: a load step (16 callers, about 15x one worker) → a second worker ready', reactions, fromNothing),
    ];
    return { throughput, latency };
  } finally {
    nginx?.kill('SIGTERM');
    // Destroy what the bench started and wait until no instance is left (its processes ended), then stop Gantry.
    try {
      for (const id of deployments) await api('DELETE', `/api/v0/deployment/${id}/`);
      await until(async () => ((await api('GET', '/api/v0/instances/')).instances_found as number) === 0, 120_000);
    } finally {
      if (gantry.exitCode === null && gantry.signalCode === null) {
        const exited = new Promise((r) => gantry.once('exit', r));
        gantry.kill('SIGTERM');
        await exited;
      }
    }
  }
}

/** A throughput table: each variant's req/s, latency and req/s relative to the first row's. */
export function throughputTable(rows: readonly ThroughputRow[]): string {
  return textTable(
    ['benchmark', 'variant', 'requests', 'req/s', 'p50 ms', 'p99 ms', 'req/s ratio'],
    rows.map((t) => [
      t.bench,
      t.variant,
      String(t.requests),
      t.reqPerS.toFixed(0),
      t.p50Ms.toFixed(2),
      t.p99Ms.toFixed(2),
      `${(t.ratioReqPerS ?? 1).toFixed(2)}x`,
    ]),
  );
}

export function printServerless(r: { throughput: ThroughputRow[]; latency: LatencyRow[] }): void {
  process.stdout.write(
    throughputTable(r.throughput) +
      '\n' +
      textTable(
        ['benchmark', 'variant', 'n', 'p50 ms', 'p99 ms', 'p50 ratio'],
        r.latency.map((l) => [l.bench, l.variant, String(l.n), l.p50Ms.toFixed(1), l.p99Ms.toFixed(1), `${(l.ratioP50 ?? 1).toFixed(1)}x`]),
      ),
  );
}
