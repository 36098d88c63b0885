import { join } from 'node:path';
import type { RunningGantry } from '../src/main/up.js';
import { load, type LoadSpec } from './load.js';
import { throughputTable, type ThroughputRow } from './proxy.js';
import { benchGantry, callApi } from './util.js';

/** A rate no caller reaches: every request pays for its bucket, none is refused. */
const UNREACHED = 1_000_000;
const INSTANCES = 10;
/** 32 callers from this process for 5 s (GANTRY_BENCH_PROXY_MS when set, as for one round of the proxy's rows). */
const at = (origin: string, path: string, headers: Record<string, string>): LoadSpec => ({
  origin,
  path,
  headers,
  connections: 32,
  durationMs: Number(process.env.GANTRY_BENCH_PROXY_MS ?? 5_000),
});

const start = (dir: string, gpus: string, rateLimit: number): Promise<RunningGantry> => benchGantry(dir, { gpus, rateLimit, runtime: 'process' });

/** Create `n` one-GPU instances through the API and wait until each runs (a real listing: machines, usage). */
async function runInstances(g: RunningGantry, n: number): Promise<number[]> {
  const api = (method: string, path: string, body?: unknown): Promise<Record<string, unknown>> => callApi(g.url, g.adminKey ?? '', method, path, body);
  const ids: number[] = [];
  for (let i = 0; i < n; i++)
    ids.push((await api('PUT', '/api/v0/asks/1001/', { image: 'none', onstart: 'sleep 600', runtype: 'ssh' })).new_contract as number);
  const until = Date.now() + 60_000;
  for (;;) {
    const rows = (await api('GET', '/api/v0/instances/')).instances as { actual_status: string }[];
    if (rows.length === n && rows.every((r) => r.actual_status === 'running')) return ids;
    if (Date.now() > until) throw new Error(`bench: ${n} instances not running within 60 s: ${rows.map((r) => r.actual_status).join(', ')}`);
    await new Promise((res) => setTimeout(res, 20));
  }
}

/**
 * API throughput with authentication and rate limiting on vs off, side by side in one run (32 callers,
 * closed loop, same process and machine): an unauthenticated route as the baseline (the HTTP stack
 * alone), then an authenticated read with limits off, then the same read with limits on at a rate
 * no caller reaches (so every request pays for the bucket but none is refused). Then, on one server
 * with limits on: the unauthenticated route again, and an authenticated `GET /api/v0/instances/` of
 * 10 running instances, the read clients poll most (issue 17's target: ≥ 0.7× the unauthenticated route).
 */
export async function authBench(dir: string): Promise<ThroughputRow[]> {
  const variants: [name: string, path: string, rateLimit: number, auth: boolean][] = [
    ['GET /api/v0/gpu_names/unique: no key, no limits (baseline)', '/api/v0/gpu_names/unique/', 0, false],
    ['GET /api/v0/users/current: key checked, no limits', '/api/v0/users/current/', 0, true],
    ['GET /api/v0/users/current: key checked, rate limit on', '/api/v0/users/current/', UNREACHED, true],
  ];
  const rows: ThroughputRow[] = [];
  let base: number | null = null;
  for (const [i, [name, path, rateLimit, auth]] of variants.entries()) {
    const g = await start(join(dir, `auth-${i}`), '1x RTX 4090:24GB', rateLimit);
    try {
      const r = await load(at(g.url, path, auth ? { authorization: `Bearer ${g.adminKey ?? ''}` } : {}));
      base ??= r.perS;
      rows.push({
        bench: 'API throughput',
        variant: name,
        requests: r.n,
        reqPerS: r.perS,
        p50Ms: r.p50,
        p99Ms: r.p99,
        ratioReqPerS: r.perS / base,
        ratioToNginx: null,
      });
    } finally {
      await g.close();
    }
  }
  rows.push(...(await listBench(join(dir, 'auth-list'))));
  return rows;
}

/** One server, limits on, 10 running instances: the unauthenticated route (baseline) beside the authenticated listing. */
async function listBench(dir: string): Promise<ThroughputRow[]> {
  const g = await start(dir, `${INSTANCES}x RTX 4090:24GB`, UNREACHED);
  try {
    await runInstances(g, INSTANCES);
    const bench = `one server, limits on, ${INSTANCES} instances`;
    const base = await load(at(g.url, '/api/v0/gpu_names/unique/', {}));
    const list = await load(at(g.url, '/api/v0/instances/', { authorization: `Bearer ${g.adminKey ?? ''}` }));
    const row = (variant: string, r: typeof base): ThroughputRow => ({
      bench,
      variant,
      requests: r.n,
      reqPerS: r.perS,
      p50Ms: r.p50,
      p99Ms: r.p99,
      ratioReqPerS: r.perS / base.perS,
      ratioToNginx: null,
    });
    return [row('GET /api/v0/gpu_names/unique: no key (baseline)', base), row(`GET /api/v0/instances/ (${INSTANCES} running): key checked`, list)];
  } finally {
    await g.close(); // its instances go with it (dataDirGoes)
  }
}

export function printAuth(rows: readonly ThroughputRow[]): void {
  process.stdout.write(throughputTable(rows));
}
