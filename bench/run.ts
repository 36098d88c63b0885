import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { RunningGantry } from '../src/main/up.js';
import { heartbeatBench, printResources } from './fleet.js';
import { printServerless, serverlessBench } from './serverless.js';
import { proxyBench, throughputTable } from './proxy.js';
import { goalRows, goalTable } from './goals.js';
import { authBench, printAuth } from './auth.js';
import { callApi, pair, startBenchGantry, textTable, type LatencyRow } from './util.js';
import { aicoreBench } from './aicore.js';
import { elasticBench, printElastic } from './elastic.js';
import { sandboxBench } from './sandbox.js';
import { searchBench } from './search.js';
import { stopBench } from './stop.js';
import { scaleBench } from './scale.js';
import { codeBench } from './code.js';
import { coldEndpointsBench } from './cold.js';
import { stoppedEndpointsBench } from './stopped.js';
import { bytesTable, consoleBench } from './console.js';

/**
 * Benchmarks, each side by side with a baseline measured in the same run:
 *  - offer search over 100,000 offers, a mix of 20 searches: HTTP API (offers index) vs the same searches in-process on
 *    ready rows, and again while machines change (search.ts);
 *  - instance create → running: through the API and reconciler vs spawning the same command directly;
 *  - container create → running (docker runtime on Podman) vs the process runtime, both through the API;
 *  - instance stop → stopped and GPUs offered: vs a SIGTERM to the same command, and on Podman vs `docker stop` (stop.ts);
 *  - heartbeat handling for 1,000 simulated agents: server CPU and memory vs the same server idle (fleet.ts);
 *  - the serverless proxy: Gantry vs nginx `proxy_pass` vs the worker called directly, for workers of 0, 1 and 20 ms (proxy.ts);
 *  - serverless: stop latency with and without drain, scale from zero, autoscale (serverless.ts); the server's CPU with
 *    200 stopped endpoints resting vs passed at every tick vs none (stopped.ts);
 *  - API throughput with authentication and rate limiting on vs off (auth.ts);
 *  - AI Core: a bulk stop of 100 deployments vs 100 single stops, and token + authenticated GET vs Vast's authenticated GET (aicore.ts);
 *  - Elasticsearch: `_infer` through Gantry vs onnxruntime in-process, `_stop` with and without finish_pending_work (elastic.ts);
 *  - the process sandbox: create → running and a CPU-bound workload, sandboxed vs bare (sandbox.ts);
 *  - fleet scale on PostgreSQL: a full reconcile pass over 100,000 instances on 10,000 machines vs one SELECT of
 *    the same rows, and server CPU and memory with 1,000 agents heartbeating vs the same server idle (scale.ts);
 *  - code deployments (Node SDK, process runtime): deploy → first answer vs the function called in-process, and call
 *    latency during a soft update (restart in place) vs the steady state before it (code.ts);
 *  - the web console: first load in Chromium (bytes, time to usable) vs a minimal document and the API's /docs page,
 *    and the server's CPU with 100 open event streams vs none while instances change (console.ts).
 *
 * `npm run bench -- serverless` (or search, create, stop, fleet, proxy, scale, auth, aicore, elastic, code, console) runs only those.
 */
const CREATE_RUNS = 10;

type Row = LatencyRow;

const time = async (f: () => Promise<unknown>): Promise<number> => {
  const t = process.hrtime.bigint();
  await f();
  return Number(process.hrtime.bigint() - t) / 1e6;
};

function start(dataDir: string, gpus: string, runtime: { runtime: string; dockerHost?: string } = { runtime: 'process' }): Promise<RunningGantry> {
  return startBenchGantry(dataDir, gpus, runtime);
}

/** Create → running through the API on one runtime; with `direct`, also the bare spawn baseline. */
async function createTimes(dir: string, rt: { runtime: string; dockerHost?: string; image: string }): Promise<{ api: number[]; direct: number[] }> {
  const g = await start(join(dir, `create-${rt.runtime}`), '16x RTX 4090:24GB', rt);
  const children: ReturnType<typeof spawn>[] = [];
  try {
    const api = (method: string, path: string, body?: unknown): Promise<Record<string, unknown>> => callApi(g.url, g.adminKey ?? '', method, path, body);
    const viaApi = async (): Promise<void> => {
      const c = await api('PUT', '/api/v0/asks/1001/', { image: rt.image, onstart: 'sleep 30', runtype: 'ssh' });
      const id = c.new_contract as number;
      for (;;) {
        const r = (await api('GET', `/api/v0/instances/${id}/`)).instances as Record<string, unknown>;
        if (r.actual_status === 'running') return;
        if (r.actual_status === 'exited' || r.actual_status === 'failed')
          throw new Error(`bench: instance ${id} ${String(r.actual_status)}: ${String(r.status_msg)}`);
        await new Promise((res) => setTimeout(res, 2));
      }
    };
    const direct = async (): Promise<void> => {
      const c = spawn('bash', ['-c', 'sleep 30'], { detached: true, stdio: 'ignore' });
      children.push(c);
      await new Promise((res, rej) => {
        c.once('spawn', res);
        c.once('error', rej);
      });
    };
    const a: number[] = [];
    const d: number[] = [];
    for (let i = 0; i < CREATE_RUNS; i++) {
      a.push(await time(viaApi));
      d.push(await time(direct));
    }
    return { api: a, direct: d };
  } finally {
    // The directly spawned commands end here; the instances go with the Gantry (dataDirGoes).
    for (const c of children) if (c.pid !== undefined && c.exitCode === null) process.kill(-c.pid, 'SIGKILL');
    await g.close();
  }
}

function print(rows: Row[]): void {
  const head = ['benchmark', 'variant', 'n', 'p50 ms', 'p99 ms', 'p50 ratio'];
  const cells = rows.map((r) => [
    r.bench,
    r.variant,
    String(r.n),
    r.p50Ms.toFixed(2),
    r.p99Ms.toFixed(2),
    r.ratioP50 === null ? '-' : `${r.ratioP50.toFixed(1)}x`,
  ]);
  process.stdout.write(textTable(head, cells));
}

type Podman = { skip?: string; dockerHost?: string; image?: string; stop?: () => Promise<void> };

/** Containers: a private Podman API service and the busybox test image, as in the tests. */
async function startPodman(): Promise<Podman> {
  const harness = '../../scripts/podman-harness.mjs';
  return ((await import(harness)) as { startPodman: () => Promise<Podman> }).startPodman();
}

async function stopRows(dir: string): Promise<Row[]> {
  const podman = await startPodman();
  try {
    return await stopBench(dir, podman);
  } finally {
    await podman.stop?.();
  }
}

async function createBench(dir: string): Promise<Row[]> {
  const proc = await createTimes(dir, { runtime: 'process', image: 'none' });
  const rows = pair(
    'create → running',
    ['spawn the same command directly (baseline)', proc.direct],
    ['PUT /asks/ then poll until actual_status=running', proc.api],
  );
  const podman = await startPodman();
  if (podman.skip !== undefined || podman.dockerHost === undefined || podman.image === undefined) {
    process.stdout.write(`container create → running skipped: ${podman.skip ?? 'no engine'}\n`);
    return rows;
  }
  try {
    const docker = await createTimes(dir, { runtime: 'docker', dockerHost: podman.dockerHost, image: podman.image });
    return [
      ...rows,
      ...pair(
        'create → running: container vs process',
        ['process runtime, through the API (baseline)', proc.api],
        ['docker runtime on Podman, through the API', docker.api],
      ),
    ];
  } finally {
    await podman.stop?.();
  }
}

/** The parts `npm run bench -- PART…` can run (none named: all of them). */
const PARTS = ['search', 'create', 'stop', 'fleet', 'scale', 'serverless', 'proxy', 'auth', 'aicore', 'elastic', 'sandbox', 'code', 'console'];
const only = new Set(process.argv.slice(2));
if (only.has('--help') || only.has('-h') || [...only].some((p) => !PARTS.includes(p))) {
  const unknown = [...only].filter((p) => !PARTS.includes(p) && p !== '--help' && p !== '-h');
  const usage = `usage: npm run bench [-- PART...]   (no PART: every part)\nparts: ${PARTS.join(', ')}\nresults: a table here, JSON in bench/results/\n`;
  process.stderr.write((unknown.length > 0 ? `unknown part: ${unknown.join(', ')}\n` : '') + usage);
  process.exit(unknown.length > 0 ? 2 : 0);
}
const wants = (name: string): boolean => only.size === 0 || only.has(name);
const dir = await mkdtemp(join(tmpdir(), 'gantry-bench-'));
try {
  const scale = wants('scale') ? await scaleBench(dir) : null;
  const web = wants('console') ? await consoleBench(dir) : null;
  const rows = [
    ...(wants('search') ? await searchBench(dir) : []),
    ...(wants('create') ? await createBench(dir) : []),
    ...(wants('stop') ? await stopRows(dir) : []),
    ...(wants('aicore') ? await aicoreBench(dir) : []),
    ...(wants('sandbox') ? await sandboxBench(dir) : []),
    ...(wants('code') ? await codeBench(dir) : []),
    ...(scale?.rows ?? []),
    ...(web?.rows ?? []),
  ];
  if (rows.length > 0) print(rows);
  if (web !== null) process.stdout.write('\n' + bytesTable(web.bytes) + '\n');
  const resources = [
    ...(wants('fleet') ? await heartbeatBench(dir) : []),
    ...(scale?.resources ?? []),
    ...(web?.resources ?? []),
    ...(wants('serverless') ? await stoppedEndpointsBench(dir) : []),
    ...(wants('serverless') ? await coldEndpointsBench(dir) : []),
  ];
  if (resources.length > 0) {
    process.stdout.write('\n');
    printResources(resources);
  }
  const throughput = wants('proxy') ? await proxyBench(dir) : null;
  if (throughput !== null) {
    process.stdout.write('\n' + throughputTable(throughput));
  }
  const serverless = wants('serverless') ? await serverlessBench(dir) : null;
  if (serverless !== null) {
    process.stdout.write('\n');
    printServerless(serverless);
  }
  const out = fileURLToPath(new URL('../../bench/results/', import.meta.url));
  await mkdir(out, { recursive: true });
  const auth = wants('auth') ? await authBench(dir) : null;
  if (auth !== null) {
    process.stdout.write('\n');
    printAuth(auth);
  }
  const elastic = wants('elastic') ? await elasticBench(dir) : null;
  if (elastic !== null) {
    process.stdout.write('\n');
    printElastic(elastic);
  }
  const goals = goalRows({ rows, throughput, serverless, auth, resources, consoleBytes: web?.bytes ?? null });
  if (goals.length > 0) process.stdout.write('\n' + goalTable(goals));
  const file = only.size === 0 ? 'latest.json' : `latest-${[...only].sort().join('-')}.json`;
  await writeFile(
    join(out, file),
    JSON.stringify(
      { at: new Date().toISOString(), node: process.version, goals, rows, resources, throughput, serverless, auth, elastic, console: web },
      null,
      2,
    ) + '\n',
  );
  process.stdout.write(`\nwrote ${join(out, file)}\n`);
} finally {
  await rm(dir, { recursive: true, force: true });
}
process.exit(0);
