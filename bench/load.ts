import { spawn, spawnSync } from 'node:child_process';
import { Pool } from 'undici';
import { pct } from './util.js';

/** What a closed-loop load measured: requests answered, their rate, and their latency (ms). */
export interface Load {
  readonly n: number;
  readonly perS: number;
  readonly p50: number;
  readonly p99: number;
}

/** A closed-loop load: `connections` callers, each sending the next request when the last answered. */
export interface LoadSpec {
  readonly origin: string;
  readonly path: string;
  readonly headers: Record<string, string>;
  readonly connections: number;
  readonly durationMs: number;
}

/** Every load starts with this long unmeasured: connections opened, code warmed. */
const WARM_MS = 1_000;

/** One GET of `s` on `pool`, answered 200 and read whole: its latency in ms. */
async function timedGet(pool: Pool, s: LoadSpec): Promise<number> {
  const t = process.hrtime.bigint();
  const res = await pool.request({ method: 'GET', path: s.path, headers: s.headers });
  await res.body.text();
  if (res.statusCode !== 200) throw new Error(`bench: ${s.origin}${s.path} answered ${res.statusCode}`);
  return Number(process.hrtime.bigint() - t) / 1e6;
}

/** The load from this process, with undici: its CPU is taken from the same cores as what it measures. */
export async function load(s: LoadSpec): Promise<Load> {
  const pool = new Pool(s.origin, { connections: s.connections, pipelining: 1 });
  const one = (): Promise<number> => timedGet(pool, s);
  const callers = async (until: (now: number) => boolean, done: (ms: number) => void): Promise<void> => {
    await Promise.all(
      Array.from({ length: s.connections }, async () => {
        while (!until(Date.now())) done(await one());
      }),
    );
  };
  try {
    const warmEnd = Date.now() + WARM_MS;
    await callers(
      (now) => now >= warmEnd,
      () => undefined,
    );
    const times: number[] = [];
    const start = Date.now();
    await callers(
      (now) => now - start >= s.durationMs,
      (ms) => times.push(ms),
    );
    const elapsed = (Date.now() - start) / 1000;
    return { n: times.length, perS: times.length / elapsed, p50: pct(times, 50), p99: pct(times, 99) };
  } finally {
    await pool.close();
  }
}

/**
 * Requests in a row per variant in `interleaved` (`GANTRY_BENCH_PROXY_BLOCK`): 1 by default, each request
 * paired with the direct call next to it (each proxy idle between its requests, as under sporadic
 * callers); 20 or so measures each proxy warm, paired by block (ms apart instead of µs).
 */
export const INTERLEAVED_BLOCK = Math.max(1, Number(process.env.GANTRY_BENCH_PROXY_BLOCK ?? 1));

/**
 * One caller per spec, the specs taking turns in blocks of INTERLEAVED_BLOCK requests (the order rotated each
 * round, so no spec always follows the same one), so that whatever the machine does meanwhile falls on each alike: for what a proxy adds to one
 * request, where a few milliseconds of drift between measurements made in turn would outweigh the
 * tenths measured. Besides each spec's own latencies, `added` is the median over rounds of its block's
 * median minus spec 0's in the same round, with the 25th and 75th percentiles of those differences.
 */
export async function interleaved(specs: readonly LoadSpec[], durationMs: number): Promise<(Load & { added: number; addedIqr: [number, number] })[]> {
  const pools = specs.map((s) => new Pool(s.origin, { connections: 1, pipelining: 1 }));
  const one = (i: number): Promise<number> => timedGet(pools[i] as Pool, specs[i] as LoadSpec);
  /** Rounds until `ms` passed: every latency per spec, and per spec each round's block median. */
  const rounds = async (ms: number): Promise<{ all: number[][]; blocks: number[][] }> => {
    const all: number[][] = specs.map(() => []);
    const blocks: number[][] = specs.map(() => []);
    const end = Date.now() + ms;
    for (let round = 0; Date.now() < end; round++)
      for (let k = 0; k < specs.length; k++) {
        const i = (k + round) % specs.length;
        const block: number[] = [];
        for (let j = 0; j < INTERLEAVED_BLOCK; j++) block.push(await one(i));
        all[i]?.push(...block);
        blocks[i]?.push(pct(block, 50));
      }
    return { all, blocks };
  };
  try {
    await rounds(WARM_MS);
    const start = Date.now();
    const { all, blocks } = await rounds(durationMs);
    const elapsed = (Date.now() - start) / 1000;
    const base = blocks[0] as number[];
    return all.map((ts, i) => {
      const diffs = (blocks[i] as number[]).map((b, r) => b - (base[r] as number));
      return { n: ts.length, perS: ts.length / elapsed, p50: pct(ts, 50), p99: pct(ts, 99), added: pct(diffs, 50), addedIqr: [pct(diffs, 25), pct(diffs, 75)] };
    });
  } finally {
    await Promise.all(pools.map((p) => p.close()));
  }
}

/** wrk's latency figures ("1.23ms", "850.00us", "1.01s") in ms. */
function wrkMs(v: string): number {
  const m = /^([\d.]+)(us|ms|s)$/.exec(v);
  if (m === null) throw new Error(`bench: wrk printed a latency of '${v}'`);
  return Number(m[1]) * (m[2] === 'us' ? 0.001 : m[2] === 's' ? 1000 : 1);
}

function runWrk(bin: string, s: LoadSpec, seconds: number): Promise<string> {
  const args = ['-t1', `-c${s.connections}`, `-d${seconds}s`, '--latency'];
  for (const [k, v] of Object.entries(s.headers)) args.push('-H', `${k}: ${v}`);
  args.push(`${s.origin}${s.path}`);
  return new Promise((resolve, reject) => {
    const child = spawn(bin, args, { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.once('error', reject);
    child.once('exit', (code) => (code === 0 ? resolve(out) : reject(new Error(`bench: wrk exited with ${String(code)}: ${out}`))));
  });
}

/**
 * The load from wrk (C, one thread, epoll), as the issue's own ceiling was measured: it leaves more of the
 * two cores to the proxies it compares. Whole seconds (wrk's unit), after a warm-up run.
 */
export async function wrkLoad(bin: string, s: LoadSpec): Promise<Load> {
  await runWrk(bin, s, Math.ceil(WARM_MS / 1000));
  const out = await runWrk(bin, s, Math.max(1, Math.round(s.durationMs / 1000)));
  const bad = /Non-2xx or 3xx responses: (\d+)/.exec(out) ?? /Socket errors: .*(?:connect|read|write|timeout) [1-9]/.exec(out);
  if (bad !== null) throw new Error(`bench: ${s.origin}${s.path} through wrk: ${bad[0]}`);
  const n = /(\d+) requests in ([\d.]+)(ms|s|m)/.exec(out);
  const p50 = /\s50%\s+(\S+)/.exec(out);
  const p99 = /\s99%\s+(\S+)/.exec(out);
  if (n === null || p50 === null || p99 === null) throw new Error(`bench: wrk printed no result: ${out}`);
  const seconds = Number(n[2]) * (n[3] === 'ms' ? 0.001 : n[3] === 'm' ? 60 : 1);
  return { n: Number(n[1]), perS: Number(n[1]) / seconds, p50: wrkMs(p50[1] as string), p99: wrkMs(p99[1] as string) };
}

/** A tool from Debian, installed on first use when running as root; null (with the reason printed) when unavailable. */
export function debianTool(name: string, path: string, why: string): string | null {
  const which = (): string | null => {
    const r = spawnSync('sh', ['-c', `command -v ${name} || ls ${path} 2>/dev/null`], { encoding: 'utf8' });
    return r.stdout.trim().split('\n')[0] || null;
  };
  if (which() !== null) return which();
  if (process.getuid?.() === 0) {
    process.stdout.write(`installing ${name} (apt-get install -y ${name}) for ${why}…\n`);
    const install = `DEBIAN_FRONTEND=noninteractive apt-get install -y ${name} >/dev/null 2>&1`;
    spawnSync('sh', ['-c', `${install} || (apt-get update >/dev/null 2>&1 && ${install})`], { stdio: 'inherit' });
  }
  return which();
}
