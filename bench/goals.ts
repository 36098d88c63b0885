import type { BytesRow } from './console.js';
import type { ResourceRow } from './fleet.js';
import type { ThroughputRow } from './proxy.js';
import { textTable, type LatencyRow } from './util.js';

/**
 * The one table of issue 17's goals: each goal, what this run measured, its target, and the peer measured
 * beside it in the same run (its ratio). Built from the rows the groups return; a goal whose group did not
 * run (`npm run bench -- <group>`) is left out.
 */
export interface GoalRow {
  readonly goal: string;
  readonly target: string;
  readonly measured: string;
  readonly peer: string;
  readonly met: boolean | null;
}

export interface BenchResults {
  readonly rows: readonly LatencyRow[];
  readonly throughput: readonly ThroughputRow[] | null;
  readonly serverless: readonly LatencyRow[] | null;
  readonly auth: readonly ThroughputRow[] | null;
  /** CPU and memory rows (the fleet at scale among them). */
  readonly resources: readonly ResourceRow[];
  /** The console's first load, bytes transferred (issue 19). */
  readonly consoleBytes?: readonly BytesRow[] | null;
}

type Named = { readonly bench: string; readonly variant: string };
const find = <T extends Named>(rows: readonly T[] | null, bench: string, variant: string): T | undefined =>
  rows?.find((r) => r.bench.includes(bench) && r.variant.includes(variant));
const ms = (v: number): string => `${v < 10 ? v.toFixed(1) : v.toFixed(0)} ms`;

export function goalRows(r: BenchResults): GoalRow[] {
  const out: GoalRow[] = [];
  const latency = (
    goal: string,
    rows: readonly LatencyRow[] | null,
    bench: string,
    variant: string,
    base: string,
    p50: number,
    p99?: number,
    /** ms the goal allows beyond its target (the requests' own time), or 'peer': the goal is the time beyond the peer's. */
    beyond: number | 'peer' = 0,
  ): void => {
    const x = find(rows, bench, variant);
    if (x === undefined) return;
    const b = find(rows, bench, base);
    const byPeer = beyond === 'peer';
    if (byPeer && b === undefined) return;
    const extra = byPeer ? (b?.p50Ms ?? 0) : beyond;
    const extra99 = byPeer ? (b?.p99Ms ?? 0) : beyond;
    const p50v = x.p50Ms - extra;
    out.push({
      goal,
      target: `p50 ≤ ${p50} ms${p99 !== undefined ? `, p99 ≤ ${p99} ms` : ''}${byPeer ? ' beyond the peer' : extra > 0 ? ` beyond the requests' remaining ${extra} ms` : ''}`,
      measured: `p50 ${ms(p50v)}${p99 !== undefined ? `, p99 ${ms(x.p99Ms - extra99)}` : ''}${byPeer ? ' beyond it' : ''}`,
      peer: b !== undefined && b !== x ? `${b.variant.replace(/ \(baseline\)$/, '')}: p50 ${ms(b.p50Ms)}` : '-',
      met: p50v <= p50 && (p99 === undefined || x.p99Ms - extra99 <= p99),
    });
  };
  const stop = 'instance stop → stopped recorded and GPUs offered';
  latency('1. instance stop, process runtime', r.rows, `${stop} (workload`, 'process runtime', 'SIGTERM', 50, 150);
  latency('1. instance stop, docker runtime', r.rows, `${stop}, containers`, 'docker runtime', 'docker stop', 50, 150, 'peer');
  latency('1. deployment stop, nothing in flight', r.serverless, 'no request in flight, worker up', 'stop, no drain', '\u0000', 100);
  // The same stop given the moment the deployment reads running: its worker's own start still under way (serverless.ts).
  latency('1. the same, as soon as it reads running', r.serverless, 'no request in flight, as soon as', 'stop, no drain', '\u0000', 100);
  latency('1. deployment stop, drain, 300 ms requests in flight', r.serverless, '300 ms in flight', 'finish_pending_work', 'no drain', 100, undefined, 250);
  latency('1. scale from zero → first answer (plain HTTP worker)', r.serverless, 'time to first answer', 'plain HTTP worker', 'warm worker', 400);
  latency('1. inactive worker restart → first answer', r.serverless, 'time to first answer', 'inactive worker starts', 'warm worker', 250);
  latency('1. autoscale: load step → new worker serving', r.serverless, 'a new worker ready', 'autoscale', 'from zero', 1000);
  const search = find(r.rows, 'offer search', 'POST /api/v0/bundles/ (');
  if (search !== undefined) {
    const inProcess = find(r.rows, 'offer search', 'in-process query on ready rows');
    out.push({
      goal: '2. offer search over HTTP, mix of 20',
      target: 'p50 ≤ 5 ms, p99 ≤ 20 ms',
      measured: `p50 ${ms(search.p50Ms)}, p99 ${ms(search.p99Ms)}; ${/index: ([^;)]*)/.exec(search.variant)?.[1] ?? ''}`,
      peer: inProcess !== undefined ? `in-process scan: p50 ${ms(inProcess.p50Ms)}` : '-',
      met: search.p50Ms <= 5 && search.p99Ms <= 20,
    });
  }
  const churn = find(r.rows, 'offer search', 'machine changes/s');
  if (churn !== undefined)
    out.push({
      goal: '2. offer search while machines change',
      target: 'no spike: p99 ≤ 20 ms',
      measured: `p50 ${ms(churn.p50Ms)}, p99 ${ms(churn.p99Ms)} (${/while (\d+)/.exec(churn.variant)?.[1] ?? '?'} changes/s)`,
      peer: search !== undefined ? `quiet: p99 ${ms(search.p99Ms)}` : '-',
      met: churn.p99Ms <= 20,
    });
  const proxy = (label: string, want: number, addP50: boolean): void => {
    const at = `32 concurrent, ${label}`;
    const g = find(r.throughput, at, 'Gantry');
    const n = find(r.throughput, at, 'nginx');
    if (g === undefined || n === undefined || g.ratioToNginx === null) return;
    // Added p50 at one caller: at 32 callers on two cores it is queueing for CPU, for nginx as for Gantry (shown beside).
    const added = (variant: string, bench: string): number => {
      const v = find(r.throughput, bench, variant);
      const direct = find(r.throughput, bench, 'directly');
      if (typeof v?.addedP50Ms === 'number') return v.addedP50Ms;
      return v !== undefined && direct !== undefined ? v.p50Ms - direct.p50Ms : NaN;
    };
    const one = `1 caller, ${label}`;
    const [gOne, nOne, gAll, nAll] = [added('Gantry', one), added('nginx', one), added('Gantry', at), added('nginx', at)];
    // What the smallest Node proxy adds: below it, a Node data plane cannot go on this machine.
    const floor = added('raw-socket', one);
    const ms2 = (v: number): string => (Number.isNaN(v) ? 'n/a' : `${v.toFixed(2)} ms`);
    out.push({
      goal: `3. proxy req/s, ${label}`,
      target: `≥ ${want}× nginx${addP50 ? ', added p50 ≤ 0.3 ms (1 caller), p99 ≤ 2× nginx' : ''}`,
      measured: `${g.ratioToNginx.toFixed(2)}× nginx${addP50 ? `, added p50 ${ms2(gOne)} (32 callers: ${ms2(gAll)}), p99 ${(g.p99Ms / n.p99Ms).toFixed(1)}× nginx` : ''}`,
      peer: `nginx ${n.reqPerS.toFixed(0)} req/s${addP50 ? `, added p50 ${ms2(nOne)} (32 callers: ${ms2(nAll)}); smallest Node proxy: added p50 ${ms2(floor)}` : ''}`,
      met: g.ratioToNginx >= want && (!addP50 || (gOne <= 0.3 && g.p99Ms <= 2 * n.p99Ms)),
    });
  };
  proxy('worker answers in 1 ms', 0.8, true);
  proxy('worker answers in 20 ms', 0.95, false);
  const listing = find(r.auth, 'instances', 'GET /api/v0/instances/');
  const light = find(r.auth, 'instances', 'gpu_names');
  if (listing !== undefined && light !== undefined)
    out.push({
      goal: '4. authenticated GET /api/v0/instances/ (10), limits on',
      target: '≥ 0.7× an unauthenticated light route',
      measured: `${(listing.reqPerS / light.reqPerS).toFixed(2)}× (${listing.reqPerS.toFixed(0)} req/s)`,
      peer: `GET /api/v0/gpu_names/unique/: ${light.reqPerS.toFixed(0)} req/s`,
      met: listing.reqPerS / light.reqPerS >= 0.7,
    });
  const floor = find(r.rows, 'full reconcile pass', 'SELECT');
  for (const variant of ['next pass', 'exited']) {
    const pass = find(r.rows, 'full reconcile pass', variant);
    if (pass === undefined) continue;
    out.push({
      goal: `5. full reconcile pass, 100k instances, ${variant === 'exited' ? '1% of workloads exited' : 'all as recorded'}`,
      target: '≤ 1 s',
      measured: `${(pass.p50Ms / 1000).toFixed(1)} s${pass.variant.includes('projected') ? ' (projected)' : ''}`,
      peer: floor !== undefined ? `one SELECT of the rows: ${(floor.p50Ms / 1000).toFixed(1)} s` : '-',
      met: pass.p50Ms <= 1000,
    });
  }
  const steady = find(r.resources, 'steady state', 'heartbeating');
  const idle = find(r.resources, 'steady state', 'idle');
  if (steady !== undefined)
    out.push({
      goal: '5. control plane at steady state, 1,000 agents, PostgreSQL',
      target: '< 20% of one core, memory stated',
      measured: `${steady.cpuPercent.toFixed(0)}% of a core, ${steady.rssMb.toFixed(0)} MB RSS`,
      peer: idle !== undefined ? `idle with the same data: ${idle.cpuPercent.toFixed(0)}%, ${idle.rssMb.toFixed(0)} MB` : '-',
      met: steady.cpuPercent < 20,
    });
  consoleGoals(r, out);
  return out;
}

/** Issue 19 sets no numbers: the console's rows state what was measured beside its peer (met: -). */
function consoleGoals(r: BenchResults, out: GoalRow[]): void {
  const login = find(r.rows, 'console first load', 'login form is usable');
  const data = find(r.rows, 'console first load', 'first page shows its data');
  const docs = find(r.rows, 'console first load', 'Swagger UI');
  const bytes = r.consoleBytes?.find((b) => b.load.includes('login form'));
  const docBytes = r.consoleBytes?.find((b) => b.load.includes('/docs'));
  if (login !== undefined && bytes !== undefined)
    out.push({
      goal: 'console first load (Chromium, cold)',
      target: 'stated beside /docs',
      measured: `${(bytes.bytes / 1024).toFixed(0)} KiB, login form usable p50 ${ms(login.p50Ms)}${data !== undefined ? `, first page's data ${ms(data.p50Ms)} after log in` : ''}`,
      peer: docs !== undefined && docBytes !== undefined ? `/docs: ${(docBytes.bytes / 1024).toFixed(0)} KiB, ${ms(docs.p50Ms)}` : '-',
      met: null,
    });
  const open = find(r.resources, 'push channel', 'open GET /console/api/events');
  const quiet = find(r.resources, 'push channel', 'no event streams');
  if (open !== undefined && quiet !== undefined)
    out.push({
      goal: 'push channel, 100 open consoles',
      target: 'stated beside no consoles',
      measured: `${open.cpuPercent.toFixed(1)}% of a core (${(open.cpuPercent / Math.max(quiet.cpuPercent, 0.1)).toFixed(1)}×), ${/\((\d+) events/.exec(open.variant)?.[1] ?? '?'} events`,
      peer: `no streams: ${quiet.cpuPercent.toFixed(1)}%`,
      met: null,
    });
}

export function goalTable(rows: readonly GoalRow[]): string {
  return textTable(
    ['goal (issue 17)', 'target', 'measured', 'peer in the same run', 'met'],
    rows.map((g) => [g.goal, g.target, g.measured, g.peer, g.met === null ? '-' : g.met ? 'yes' : 'no']),
  );
}
