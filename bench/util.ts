import { spawn, type ChildProcess } from 'node:child_process';
import { readFile, rm } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { loadConfig, workloadBaseEnv } from '../src/config/load.js';
import { createLogger } from '../src/log/logger.js';
import { startGantry, type RunningGantry } from '../src/main/up.js';
import { machineLockDir, uidBaseHolder } from '../src/main/uid-base-claim.js';

/** One latency comparison row: a variant, its percentiles, and its p50 relative to the baseline's. */
export interface LatencyRow {
  readonly bench: string;
  readonly variant: string;
  readonly n: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly ratioP50: number | null;
}

/** Shared bench helpers: percentiles, plain tables, and a real `gantry` process to measure. */
export const BIN = fileURLToPath(new URL('../../bin/gantry.js', import.meta.url));

export const pct = (xs: readonly number[], p: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)] ?? NaN;
};

/** A baseline and a subject measured in the same run, as two table rows with the subject's ratio. */
export function pair(bench: string, [baseName, base]: [string, number[]], [name, subject]: [string, number[]]): LatencyRow[] {
  return [
    { bench, variant: baseName, n: base.length, p50Ms: pct(base, 50), p99Ms: pct(base, 99), ratioP50: 1 },
    { bench, variant: name, n: subject.length, p50Ms: pct(subject, 50), p99Ms: pct(subject, 99), ratioP50: pct(subject, 50) / pct(base, 50) },
  ];
}

export function textTable(head: readonly string[], cells: readonly (readonly string[])[]): string {
  const w = head.map((h, i) => Math.max(h.length, ...cells.map((c) => (c[i] ?? '').length)));
  const line = (c: readonly string[]): string => c.map((v, i) => v.padEnd(w[i] ?? 0)).join('  ');
  return [line(head), line(w.map((n) => '-'.repeat(n))), ...cells.map(line)].join('\n') + '\n';
}

/**
 * A sandbox uid base of its own for each of the bench's Gantrys, apart from the default an install of the
 * machine has (its data dir claims that base while it exists, and the bench's Gantry would be refused it),
 * and from the bench's other Gantrys (a spawned one's data dir stays until the bench ends). A
 * `GANTRY_SANDBOX_UID_BASE` of the shell would give every one the same base: only a part's own `env` sets one.
 * A base still claimed by the data dir of a bench that did not finish (killed midway: its folder stays, and its
 * sandboxed workloads may still run under that base's uids) is skipped, and said, rather than refused at start.
 */
let bases = 0;
export function benchUidBase(lockDir = machineLockDir()): number {
  for (;;) {
    const base = 1_200_000_000 + bases++ * 1_000_000;
    if (base > 3_000_000_000) throw new Error('no free sandbox uid base for the bench: remove the gantry-bench-* folders of earlier runs');
    const held = uidBaseHolder(base, NOT_A_DATA_DIR, lockDir);
    if (held === null) return base;
    process.stderr.write(
      `bench: sandbox uid base ${base} skipped: ${held.dataDir} claims it (a bench that did not finish? remove its folder once its workloads are gone)\n`,
    );
  }
}

/** No Gantry's data dir: a claim of any existing data dir holds against it. */
const NOT_A_DATA_DIR = '/nonexistent/gantry-bench';

/** Start `gantry <args>` and resolve once it printed its banner. */
export async function spawnGantry(args: readonly string[], env: Readonly<Record<string, string>>, nodeArgs: readonly string[] = []): Promise<ChildProcess> {
  const base = String(benchUidBase());
  const child = spawn(process.execPath, [...nodeArgs, BIN, ...args, '--log-level', 'error'], {
    env: { ...process.env, GANTRY_SANDBOX_UID_BASE: base, ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  await new Promise<void>((resolve, reject) => {
    let out = '';
    child.stdout?.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('Try:')) resolve();
    });
    child.once('exit', (c) => reject(new Error(`gantry ${args[0] ?? ''} exited with ${String(c)}`)));
  });
  return child;
}

/** Benches run their own server with rate limits off: a bench measures Gantry, not the limiter's default. */
export const NO_LIMITS = { rateLimit: 0 } as const;

/**
 * A bench's in-process Gantry (control plane and local host, SQLite in memory, no rate limits, a uid base of its
 * own) with `flags` over those settings, which leaves nothing behind when it closes (`dataDirGoes`).
 */
export async function benchGantry(dataDir: string, flags: Record<string, unknown>, workloadEnv = workloadBaseEnv()): Promise<RunningGantry> {
  const config = loadConfig({
    env: {},
    flags: { dataDir, port: 0, database: ':memory:', logLevel: 'silent', sandboxUidBase: benchUidBase(), ...NO_LIMITS, ...flags },
  });
  return dataDirGoes(await startGantry({ config, workloadEnv, localHost: true, log: createLogger('silent') }), dataDir);
}

/** `benchGantry` with fast loops on the process runtime; `flags` adds to or overrides those settings (runtime, sandbox...). */
export function startBenchGantry(dataDir: string, gpus: string, flags: Record<string, unknown> = {}): Promise<RunningGantry> {
  return benchGantry(dataDir, { gpus, observeIntervalMs: 50, reconcileIdleMs: 5, stopGraceMs: 500, runtime: 'process', ...flags });
}

/**
 * A bench's in-process Gantry that leaves nothing behind when it closes. Its workloads would run on (a closing
 * Gantry leaves them to the next start): after its loops are gone, so that no deployment recruits a worker
 * again, its runtime destroys them. Then its data dir goes: while it is there it keeps its sandbox uid base
 * (src/main/uid-base-claim.ts), and a later part's `gantry up`, a process of its own, would be refused that base.
 */
export function dataDirGoes(g: RunningGantry, dataDir: string): RunningGantry {
  return {
    ...g,
    close: async (): Promise<void> => {
      try {
        await g.close();
      } finally {
        for (const id of (await g.runtime?.list().catch(() => [])) ?? []) await g.runtime?.destroy(id, { graceMs: 200 }).catch(() => undefined);
        await rm(dataDir, { recursive: true, force: true });
      }
    },
  };
}

/** A JSON call that throws with the status and body on any non-2xx answer, so a bench never reads `undefined`. */
export async function callApi(url: string, key: string, method: string, path: string, body?: unknown): Promise<any> {
  const r = await fetch(url + path, {
    method,
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await r.text();
  if (r.status < 200 || r.status > 299) throw new Error(`bench: ${method} ${path} answered ${r.status}: ${text.slice(0, 500)}`);
  return text === '' ? null : JSON.parse(text);
}

/** Poll `f` every 5 ms until it gives a value (not null or false); throws after `timeoutMs`. */
export async function until<T>(f: () => Promise<T | null | false>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await f();
    if (v !== null && v !== false) return v;
    if (Date.now() > deadline) throw new Error('bench: timed out waiting');
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** Delete a bench's deployments, wait until no instance is left (their processes ended), then stop its `gantry` process. */
export async function endDeployments(
  gantry: ChildProcess,
  api: (method: string, path: string) => Promise<any>,
  ids: readonly number[],
  timeoutMs: number,
): Promise<void> {
  try {
    for (const id of ids) await api('DELETE', `/api/v0/deployment/${id}/`);
    await until(async () => ((await api('GET', '/api/v0/instances/')).instances_found as number) === 0, timeoutMs);
  } finally {
    if (gantry.exitCode === null && gantry.signalCode === null) {
      const exited = new Promise((r) => gantry.once('exit', r));
      gantry.kill('SIGTERM');
      await exited;
    }
  }
}

const WORKER = fileURLToPath(new URL('../test/fixtures/serverless-worker.js', import.meta.url));

/** A deployment of one worker of the tests' serverless worker (process runtime, one GPU), with `params` over the defaults. */
export function workerDeployment(name: string, params: Record<string, unknown>): Record<string, unknown> {
  return {
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
  };
}

/** A process's CPU seconds so far (user + system) and its resident memory, from /proc. */
export async function procSample(pid: number): Promise<{ cpuS: number; rssMb: number }> {
  const stat = (await readFile(`/proc/${pid}/stat`, 'utf8')).split(') ')[1]?.split(' ') ?? [];
  const ticks = Number(stat[11]) + Number(stat[12]); // utime + stime
  const rss = /VmRSS:\s+(\d+) kB/.exec(await readFile(`/proc/${pid}/status`, 'utf8'));
  return { cpuS: ticks / 100, rssMb: Number(rss?.[1] ?? 0) / 1024 };
}
