import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { debianTool, interleaved, INTERLEAVED_BLOCK, load, wrkLoad, type Load, type LoadSpec } from './load.js';
import { callApi, endDeployments, procSample, spawnGantry, textTable, until, workerDeployment } from './util.js';

/**
 * The serverless proxy's cost: one real worker (the SDK's, as users run it) called directly (the floor),
 * through Gantry's `/endpoints/{name}/` proxy, and through nginx `proxy_pass` with a keep-alive upstream
 * (the peer), same worker, same concurrency, one run; for a worker that answers at once, in 1 ms and in
 * 20 ms (a small model); and for the 1 ms worker, one caller at a time (what a proxy adds to a request). Gantry runs as a real `gantry up` process (`GANTRY_PROFILE_DIR` writes its CPU
 * profile there, for finding what the proxy spends its time on).
 */
export interface ThroughputRow {
  readonly bench: string;
  readonly variant: string;
  readonly requests: number;
  readonly reqPerS: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  /** req/s relative to the first row of its bench (the worker called directly). */
  readonly ratioReqPerS: number | null;
  /** req/s relative to nginx in the same bench; null for nginx itself or when nginx is missing. */
  readonly ratioToNginx: number | null;
  /** CPU the proxy process spent per request (µs); null for the worker called directly. */
  readonly proxyCpuUs?: number | null;
  /** One caller, variants taking turns: the median over rounds of this variant's block median minus the direct call's (ms). */
  readonly addedP50Ms?: number | null;
  /** The 25th and 75th percentiles of those differences (ms). */
  readonly addedIqrMs?: readonly [number, number] | null;
}

/** CPU seconds a process and its children (nginx's worker) used so far, from /proc. */
async function cpuSeconds(pid: number): Promise<number> {
  const kids = (await readFile(`/proc/${pid}/task/${pid}/children`, 'utf8').catch(() => '')).trim().split(/\s+/).filter(Boolean).map(Number);
  let total = (await procSample(pid)).cpuS;
  for (const k of kids)
    total += await procSample(k).then(
      (x) => x.cpuS,
      () => 0,
    );
  return total;
}

/** A load, with the CPU `pid` spent per request meanwhile. */
async function measured(pid: number, run: () => Promise<Load>): Promise<Load & { cpuUs: number }> {
  const before = await cpuSeconds(pid);
  const r = await run();
  return { ...r, cpuUs: (((await cpuSeconds(pid)) - before) * 1e6) / r.n };
}

const CONCURRENCY = 32;
/** Each variant is measured ROUNDS times, DURATION_MS each, in turn with the others. */
const ROUNDS = Math.max(1, Number(process.env.GANTRY_BENCH_PROXY_ROUNDS ?? 3));
const DURATION_MS = Number(process.env.GANTRY_BENCH_PROXY_MS ?? 3_000);
/**
 * One caller at a time, for the time a proxy adds to a request: free of the queueing for CPU that 32
 * callers on two cores add to every variant. The variants take turns (`interleaved`) for ROUNDS × this.
 */
const LATENCY_MS = Number(process.env.GANTRY_BENCH_PROXY_LATENCY_MS ?? 3_000);
/** Which tables: `concurrent` (32 callers, each worker), `alone` (one caller); both unless told. */
const PARTS = (process.env.GANTRY_BENCH_PROXY_PARTS ?? 'concurrent,alone').split(',');

/**
 * The load generator: undici in this process (its CPU taken from the same two cores as the proxies it
 * compares), or wrk with `GANTRY_BENCH_LOADGEN=wrk` (C, one thread; installed from Debian when missing).
 * On the development machine wrk leaves the proxies more CPU, but every row's p99, the worker called
 * directly included, reads about 200 ms, which undici's does not: the p99s are undici's.
 */
function loadGenerator(): { name: string; run: (s: LoadSpec) => Promise<Load> } {
  const wrk = process.env.GANTRY_BENCH_LOADGEN === 'wrk' ? debianTool('wrk', '/usr/bin/wrk', 'the proxy load') : null;
  return wrk === null ? { name: 'undici', run: load } : { name: 'wrk', run: (s) => wrkLoad(wrk, s) };
}

const KEY = 'gnt_bench_proxy_admin';
/** What the worker spends per request: answers at once, in 1 ms, in 20 ms (`?ms=` of the test worker). */
const WORKS: readonly { label: string; path: string }[] = [
  { label: 'worker answers at once', path: '/x' },
  { label: 'worker answers in 1 ms', path: '/w?ms=1' },
  { label: 'worker answers in 20 ms', path: '/w?ms=20' },
];

/**
 * The smallest Node proxy (node:http server, undici Pool, headers passed as they are): Node's own floor.
 * With PROCS > 1, that many processes share the listening socket (cluster, the kernel spreading
 * connections: what a multi-process data plane would get at best).
 */
const MINIMAL_PROXY = `
const cluster = require('node:cluster');
const procs = Number(process.env.PROCS);
if (procs > 1 && cluster.isPrimary) {
  cluster.schedulingPolicy = cluster.SCHED_NONE;
  let up = 0;
  cluster.on('listening', () => ++up === procs && process.stdout.write('listening\\n'));
  for (let i = 0; i < procs; i++) cluster.fork();
} else {
  const { createServer } = require('node:http');
  const { Pool } = require(process.env.UNDICI);
  const pool = new Pool(process.env.UPSTREAM, { connections: 128 });
  createServer(async (req, res) => {
    try {
      const r = await pool.request({ method: req.method, path: req.url, headers: req.headers });
      const body = Buffer.from(await r.body.arrayBuffer());
      res.writeHead(r.statusCode, r.headers).end(body);
    } catch { res.destroy(); }
  }).listen(Number(process.env.PORT), '127.0.0.1', () => procs === 1 && process.stdout.write('listening\\n'));
}
`;

/**
 * The smallest proxy on raw sockets (net, no HTTP objects: GET only, answers with a length): what a Node
 * data plane that reads HTTP/1.1 bytes itself, as Gantry's wire path does, can reach at best.
 */
const RAW_PROXY = `
const net = require('node:net');
const up = new URL(process.env.UPSTREAM);
const idle = [];
function onAnswer(c, d) {
  c.buf = c.buf ? Buffer.concat([c.buf, d]) : d;
  if (c.need === undefined) {
    const end = c.buf.indexOf('\\r\\n\\r\\n');
    if (end < 0) return;
    const m = /\\r\\ncontent-length:\\s*(\\d+)/i.exec(c.buf.toString('latin1', 0, end));
    c.need = end + 4 + Number(m ? m[1] : 0);
  }
  if (c.buf.length < c.need) return;
  const out = c.buf.subarray(0, c.need);
  const done = c.done;
  c.buf = null; c.need = undefined; c.done = null;
  idle.push(c);
  done(out);
}
function upstream() {
  let c = idle.pop();
  if (c) return c;
  c = net.connect(Number(up.port), up.hostname);
  c.setNoDelay(true);
  c.on('data', (d) => onAnswer(c, d));
  c.on('error', () => {});
  return c;
}
net.createServer((s) => {
  s.setNoDelay(true);
  let buf = null;
  let busy = false;
  const next = () => {
    if (busy || !buf) return;
    const end = buf.indexOf('\\r\\n\\r\\n');
    if (end < 0) return;
    const head = buf.toString('latin1', 0, end + 4);
    buf = buf.length > end + 4 ? buf.subarray(end + 4) : null;
    busy = true;
    const u = upstream();
    u.done = (out) => { s.write(out); busy = false; next(); };
    u.write(head, 'latin1');
  };
  s.on('data', (d) => { buf = buf ? Buffer.concat([buf, d]) : d; next(); });
  s.on('error', () => {});
}).listen(Number(process.env.PORT), '127.0.0.1', () => process.stdout.write('listening\\n'));
`;

async function startRawProxy(dir: string, upstream: string, port: number): Promise<ChildProcess> {
  const script = join(dir, 'raw-proxy.cjs');
  await writeFile(script, RAW_PROXY);
  const child = spawn(process.execPath, [script], { env: { ...process.env, UPSTREAM: upstream, PORT: String(port) }, stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise<void>((resolve, reject) => {
    child.stdout?.once('data', () => resolve());
    child.once('exit', (c) => reject(new Error(`bench: raw proxy exited with ${String(c)}`)));
  });
  return child;
}

async function startMinimalProxy(dir: string, upstream: string, port: number, procs: number): Promise<ChildProcess> {
  const undici = fileURLToPath(import.meta.resolve('undici'));
  // A file, not `-e`: cluster forks its workers from the primary's script.
  const script = join(dir, 'minimal-proxy.cjs');
  await writeFile(script, MINIMAL_PROXY);
  const child = spawn(process.execPath, [script], {
    env: { ...process.env, UPSTREAM: upstream, PORT: String(port), UNDICI: undici, PROCS: String(procs) },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  await new Promise<void>((resolve, reject) => {
    child.stdout?.once('data', () => resolve());
    child.once('exit', (c) => reject(new Error(`bench: minimal proxy exited with ${String(c)}`)));
  });
  return child;
}

async function startNginx(dir: string, upstreamPort: number, port: number): Promise<ChildProcess | null> {
  const bin = debianTool('nginx', '/usr/sbin/nginx', 'the proxy baseline');
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

export async function proxyBench(dir: string): Promise<ThroughputRow[]> {
  const port = 21000 + Math.floor(Math.random() * 1000);
  const url = `http://127.0.0.1:${port}`;
  const profile = process.env.GANTRY_PROFILE_DIR;
  const gantry = await spawnGantry(
    ['up', '--port', String(port), '--data-dir', join(dir, 'proxy'), '--gpus', '1x RTX 4090:24GB', '--runtime', 'process'],
    {
      GANTRY_ADMIN_KEY: KEY,
      GANTRY_RATE_LIMIT: '0',
      GANTRY_PORT_RANGE_START: '44000',
      GANTRY_PORT_RANGE_END: '44099',
    },
    profile !== undefined ? ['--cpu-prof', `--cpu-prof-dir=${profile}`] : [],
  );
  const api = (method: string, path: string, body?: unknown): Promise<any> => callApi(url, KEY, method, path, body);
  let nginx: ChildProcess | null = null;
  let minimal: ChildProcess | null = null;
  let cluster: ChildProcess | null = null;
  let raw: ChildProcess | null = null;
  try {
    const r = await api('POST', '/api/v0/deployments/', workerDeployment('tput', { env: { WORKER_PERF: '100000' }, min_load: 1 }));
    const endpointId = r.deployment.endpoint_id as number;
    const worker = await until(
      async () =>
        ((await api('POST', '/get_endpoint_workers/', { id: endpointId })) as { status: string; url: string }[]).find((w) => w.status === 'Ready') ?? null,
    );
    const routed = await api('POST', '/route/', { endpoint: 'tput', cost: 1 });
    const signed = { 'x-gantry-url': String(routed.url), 'x-gantry-signature': String(routed.signature), 'x-gantry-cost': '1' };
    const nginxPort = port + 1000;
    nginx = await startNginx(join(dir, 'nginx'), Number(new URL(worker.url).port), nginxPort);
    const nodePort = port + 1500;
    minimal = await startMinimalProxy(dir, worker.url, nodePort, 1);
    cluster = await startMinimalProxy(dir, worker.url, nodePort + 1, 2);
    raw = await startRawProxy(dir, worker.url, nodePort + 2);
    const gen = loadGenerator();
    const variants: Variant[] = [
      { name: 'worker directly (floor)', pid: null, origin: worker.url, gantry: false, peer: false },
      ...(nginx === null
        ? []
        : [{ name: 'nginx proxy_pass (peer)', pid: nginx.pid as number, origin: `http://127.0.0.1:${nginxPort}`, gantry: false, peer: false }]),
      {
        name: "minimal Node proxy (node:http + undici, Node's floor)",
        pid: minimal.pid as number,
        origin: `http://127.0.0.1:${nodePort}`,
        gantry: false,
        peer: true,
      },
      {
        name: 'minimal Node proxy, 2 processes sharing the socket (cluster)',
        pid: cluster.pid as number,
        origin: `http://127.0.0.1:${nodePort + 1}`,
        gantry: false,
        peer: true,
      },
      { name: RAW, pid: raw.pid as number, origin: `http://127.0.0.1:${nodePort + 2}`, gantry: false, peer: true },
      { name: 'Gantry /endpoints/ proxy (wire path)', pid: gantry.pid as number, origin: url, gantry: true, peer: true },
    ];
    const specOf = (v: Variant, path: string, connections: number, durationMs: number): LoadSpec => ({
      origin: v.origin,
      path: v.gantry ? `/endpoints/tput${path}` : path,
      headers: v.gantry ? { authorization: `Bearer ${KEY}` } : signed,
      connections,
      durationMs,
    });
    /** Each variant in turn, ROUNDS times (the machine's drift falls on all alike); per variant, its round of median req/s. */
    const medians = async (vs: readonly Variant[], path: string, connections: number, durationMs: number): Promise<Map<Variant, Measured>> => {
      const runs = new Map<Variant, Measured[]>(vs.map((v) => [v, []]));
      for (let i = 0; i < ROUNDS; i++)
        for (const v of vs) {
          const spec = specOf(v, path, connections, durationMs);
          runs.get(v)?.push(v.pid === null || connections === 1 ? await gen.run(spec) : await measured(v.pid, () => gen.run(spec)));
        }
      return new Map([...runs].map(([v, ms]) => [v, [...ms].sort((a, b) => a.perS - b.perS)[Math.floor(ms.length / 2)] as Measured]));
    };
    const rows: ThroughputRow[] = [];
    /** `turns`: the variants took turns, one request each, so their req/s are alike by design (no ratios). */
    const tabled = (bench: string, m: Map<Variant, Measured>, turns = false): void => {
      const row = rowOf(bench, m.get(variants[0] as Variant) as Measured, nginx === null ? null : (m.get(variants[1] as Variant) as Measured));
      for (const [v, one] of m) rows.push(turns ? { ...row(v.name, one, v.peer), ratioReqPerS: null, ratioToNginx: null } : row(v.name, one, v.peer));
    };
    if (PARTS.includes('concurrent'))
      for (const w of WORKS) tabled(`proxy, ${CONCURRENCY} concurrent, ${w.label} (${gen.name})`, await medians(variants, w.path, CONCURRENCY, DURATION_MS));
    // The time added to one request with nothing else in flight, for the 1 ms worker.
    const w1 = WORKS[1] as { label: string; path: string };
    if (!PARTS.includes('alone')) return rows;
    const alone = variants.filter((v) => v.pid === null || !v.peer || v.gantry || v.name === RAW);
    const turns = await interleaved(
      alone.map((v) => specOf(v, w1.path, 1, LATENCY_MS)),
      LATENCY_MS * ROUNDS,
    );
    tabled(`proxy, 1 caller, ${w1.label} (undici, in turns of ${INTERLEAVED_BLOCK})`, new Map(alone.map((v, i) => [v, turns[i] as Measured])), true);
    return rows;
  } finally {
    nginx?.kill('SIGTERM');
    minimal?.kill('SIGTERM');
    cluster?.kill('SIGTERM');
    raw?.kill('SIGTERM');
    await endDeployments(
      gantry,
      api,
      ((await api('GET', '/api/v0/deployments/')).deployments as { id: number }[]).map((d) => d.id),
      60_000,
    );
  }
}

type Measured = Load & { cpuUs?: number; added?: number; addedIqr?: [number, number] };

/** One way to the worker: called directly, or through a proxy (`pid`: the process whose CPU is counted). */
interface Variant {
  readonly name: string;
  readonly pid: number | null;
  readonly origin: string;
  /** Through Gantry: its own path and the caller's key, where the others pass the worker's signed headers. */
  readonly gantry: boolean;
  /** Compared with nginx. */
  readonly peer: boolean;
}
const RAW = 'smallest raw-socket Node proxy (net, no HTTP objects)';

/** Rows of `bench`: req/s relative to the worker called directly and, for nginx's peers, to nginx. */
const rowOf =
  (bench: string, direct: Measured, nginx: Measured | null) =>
  (variant: string, m: Measured, peer: boolean): ThroughputRow => ({
    bench,
    variant,
    requests: m.n,
    reqPerS: m.perS,
    p50Ms: m.p50,
    p99Ms: m.p99,
    ratioReqPerS: m.perS / direct.perS,
    ratioToNginx: nginx === null || !peer ? null : m.perS / nginx.perS,
    proxyCpuUs: m.cpuUs ?? null,
    addedP50Ms: m.added ?? null,
    addedIqrMs: m.addedIqr ?? null,
  });

/** The throughput table: req/s, latency, and req/s relative to the worker called directly and to nginx. */
export function throughputTable(rows: readonly ThroughputRow[]): string {
  return textTable(
    ['benchmark', 'variant', 'requests', 'req/s', 'p50 ms', 'p99 ms', 'vs direct', 'vs nginx', 'proxy CPU/req', 'added p50 (p25–p75)'],
    rows.map((t) => [
      t.bench,
      t.variant,
      String(t.requests),
      t.reqPerS.toFixed(0),
      t.p50Ms.toFixed(2),
      t.p99Ms.toFixed(2),
      t.ratioReqPerS === null ? '-' : `${t.ratioReqPerS.toFixed(2)}x`,
      t.ratioToNginx === null ? '-' : `${t.ratioToNginx.toFixed(2)}x`,
      t.proxyCpuUs === null || t.proxyCpuUs === undefined ? '-' : `${t.proxyCpuUs.toFixed(0)} µs`,
      t.addedP50Ms === null || t.addedP50Ms === undefined
        ? '-'
        : `${t.addedP50Ms.toFixed(2)} ms${t.addedIqrMs ? ` (${t.addedIqrMs[0].toFixed(2)}–${t.addedIqrMs[1].toFixed(2)})` : ''}`,
    ]),
  );
}
