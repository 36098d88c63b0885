import { join } from 'node:path';
import type { AgentCommand } from '../src/control/hosts/agent-session.js';
import { resourceRow, simMachine, type ResourceRow } from './fleet.js';
import { answer, fleetLayout, reconcilePasses, selectAll, SWEPT_AT, type Pass } from './scale-pass.js';
import { INSTANCES, MACHINES, PER_MACHINE, withClient } from './scale-seed.js';
import { callApi, pct, procSample, spawnGantry, type LatencyRow } from './util.js';

/**
 * Fleet scale (issue 17): 10,000 machines and 100,000 running instances in PostgreSQL.
 *  1. A full reconcile pass, timed in-process (the pass is the reconciler's own loop, so its start and end are
 *     read from the store): every host made due at once, the time until each was swept once (one observing
 *     `list`, its instances compared with the store's) and every row the sweep handed over was looked at
 *     (decision 017). Every machine is a real AgentSession (the HostLink of every host) whose simulated agent
 *     takes commands and answers them at once, in-process: the agent protocol's queue without HTTP. Once with
 *     every workload as recorded, once with 1% of them reporting an exit. The floor: one plain
 *     `SELECT * FROM instances` of the same rows.
 *  2. Steady state: a spawned `gantry server` on the same database, CPU and RSS from /proc, idle (no agents)
 *     beside 1,000 agents over HTTP that heartbeat at the default interval (10 s) and answer the reconciler's
 *     lists and inspects (the reconciler looks at the instances of connected hosts only).
 */
const AGENTS = 1000;
/** Each steady-state window: longer than a billing cycle at this scale (a pass of about 18 s and twice that at rest). */
const WINDOW_S = 60;
const FIRST_BILLING_BOUND_MS = 180_000;
const PASS_BOUND_MS = 60_000;
/** Workloads per thousand that report an exit before the second pass (each handed over and recorded). */
const EXITED_PER_MILLE = 10;
const ADMIN_KEY = 'gnt_bench_scale_admin_key';
/** The other 9,000 hosts count as alive elsewhere (another replica's agents): no offline sweep in the windows. */
const OFFLINE_MS = 600_000;

/** GANTRY_BENCH_SCALE_AGENTS=list: agents from before pushed listings (the sweep asks each host with `list`). */
const PUSH_LISTINGS = process.env.GANTRY_BENCH_SCALE_AGENTS !== 'list';
/** Node flags for the steady state's server, e.g. `--cpu-prof --cpu-prof-dir=/tmp/prof` to profile it. */
const SERVER_NODE_ARGS = (process.env.GANTRY_BENCH_SERVER_NODE_ARGS ?? '').split(' ').filter((x) => x !== '');

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Hosts the server's sweep compared so far, from its own metrics (gantry_host_sweeps_total, outcome swept). */
async function sweptHosts(base: string): Promise<number> {
  const text = await (await fetch(`${base}/metrics`)).text();
  const m = /^gantry_host_sweeps_total\{outcome="swept"\} (\d+)/m.exec(text);
  return Number(m?.[1] ?? 0);
}

export interface ScaleResult {
  readonly rows: LatencyRow[];
  readonly resources: ResourceRow[];
}

export async function scaleBench(dir: string): Promise<ScaleResult> {
  const harness = '../../scripts/test-postgres.mjs';
  const { startPostgres } = (await import(harness)) as { startPostgres: (port: number) => Promise<{ url: string; stop: () => Promise<void> }> };
  const pg = await startPostgres(21000 + Math.floor(Math.random() * 2000));
  try {
    const dataDir = join(dir, 'scale');
    // GANTRY_BENCH_SCALE=steady: seed, then the steady state only (the passes take minutes);
    // GANTRY_BENCH_SCALE=passes: the passes only.
    const only = process.env.GANTRY_BENCH_SCALE;
    const pass = only === 'steady' ? await seedOnly(pg.url, dataDir) : await passRows(pg.url, dataDir);
    const resources = only === 'passes' ? [] : await steadyBench(pg.url, dataDir);
    return { rows: pass, resources };
  } finally {
    await pg.stop();
  }
}

/** Seed the fleet without timing a pass, every row and host looked at just now (as after a completed pass). */
async function seedOnly(url: string, dataDir: string): Promise<LatencyRow[]> {
  await reconcilePasses(url, dataDir, ADMIN_KEY, true, 0, 0);
  await withClient(url, async (c) => {
    await c.query('UPDATE instances SET last_processed_at = $1', [Date.now()]);
    await c.query(SWEPT_AT, [Date.now()]);
  });
  return [];
}

/** A pass as a table row: measured when it completed, else projected from the hosts it swept by the bound. */
function passRow(bench: string, label: string, p: Pass, floorMs: number): LatencyRow {
  const ms = p.done ? p.ms : (p.ms * MACHINES) / Math.max(1, p.swept);
  const variant = p.done ? label : `${label}: projected, ${p.swept} hosts in ${(p.ms / 1000).toFixed(0)} s`;
  process.stdout.write(`scale: ${variant}: ${ms.toFixed(0)} ms (${p.lists} lists, ${p.handedOver} rows handed over, ${p.inspects} inspects)\n`);
  return { bench, variant, n: 1, p50Ms: ms, p99Ms: ms, ratioP50: ms / floorMs };
}

async function passRows(url: string, dataDir: string): Promise<LatencyRow[]> {
  const [cold, steady, exits] = (await reconcilePasses(url, dataDir, ADMIN_KEY, true, EXITED_PER_MILLE, PASS_BOUND_MS)) as [Pass, Pass, Pass];
  const floor = await selectAll(url);
  const fp = pct(floor, 50);
  const name = `full reconcile pass (${INSTANCES} instances on ${MACHINES} machines, PostgreSQL, in-process agent sessions)`;
  const exited = (INSTANCES * EXITED_PER_MILLE) / 1000;
  return [
    { bench: name, variant: 'one SELECT * of the same rows (floor)', n: floor.length, p50Ms: fp, p99Ms: pct(floor, 99), ratioP50: 1 },
    passRow(name, 'all hosts due → each swept once (one list each, every instance compared), default settings, first pass after start', cold, fp),
    passRow(name, 'the same, the next pass (default settings)', steady, fp),
    passRow(name, `the same with ${exited} workloads exited: those handed over and recorded (from the listing when fresh)`, exits, fp),
  ];
}

interface SimAgent {
  readonly token: string;
  readonly machineId: number;
  readonly session: string;
  seq: number;
  chain: Promise<unknown>;
  /** The heartbeat interval the control plane asked for at hello (its default). */
  readonly everyMs: number;
}

/** What a simulated host reports at hello: the hardware seeded for machine i. */
const simulated = (i: number): Record<string, unknown> =>
  simMachine(`scale-${i}`, { gpuName: 'RTX 4090', numGpus: PER_MACHINE, gpuRamMb: 24000, cpuCores: 64, cpuRamMb: 256000, diskSpaceGb: 4000 });

/** Billing passes the server finished (its /metrics, readable from this machine), and their seconds in all. */
async function billingPasses(base: string): Promise<{ count: number; sum: number }> {
  const text = await fetch(`${base}/metrics`)
    .then((r) => r.text())
    .catch(() => '');
  const total = (what: string): number =>
    [...text.matchAll(new RegExp(`^gantry_billing_pass_seconds_${what}\\{[^}]*\\} (\\S+)$`, 'gm'))].reduce((n, m) => n + Number(m[1]), 0);
  return { count: total('count'), sum: total('sum') };
}

async function steadyBench(url: string, dataDir: string): Promise<ResourceRow[]> {
  // The same hosts as alive as they were after seeding; every instance due at its usual interval.
  await withClient(url, (c) => c.query('UPDATE machines SET last_seen_at = $1', [Date.now()]));
  const port = 19000 + Math.floor(Math.random() * 2000);
  const base = `http://127.0.0.1:${port}`;
  const server = await spawnGantry(
    ['server', '--port', String(port), '--data-dir', dataDir, '--database', url],
    {
      GANTRY_ADMIN_KEY: ADMIN_KEY,
      GANTRY_MACHINE_OFFLINE_MS: String(OFFLINE_MS),
      GANTRY_RATE_LIMIT: '0',
      // The 1,000 simulated agents share one address; real ones each have their own.
      GANTRY_MAX_CONNECTIONS_PER_ADDRESS: '0',
    },
    SERVER_NODE_ARGS,
  );
  let running = true;
  const loops: Promise<void>[] = [];
  try {
    const pid = server.pid as number;
    const post = (path: string, body: unknown, key: string): Promise<any> => callApi(base, key, 'POST', path, body);
    // Out of the windows: start-up work, and the first billing pass, which writes the charge rows later passes
    // extend (decision 018). Each window then spans a whole billing cycle: a pass and its rest (decision 023).
    const first = Date.now();
    while ((await billingPasses(base)).count < 1 && Date.now() - first < FIRST_BILLING_BOUND_MS) await sleep(500);
    const firstS = (Date.now() - first) / 1000;
    const idle0 = await procSample(pid);
    const billing0 = await billingPasses(base);
    const ti = Date.now();
    await sleep(WINDOW_S * 1000);
    const idle1 = await procSample(pid);
    const idleS = (Date.now() - ti) / 1000;
    const billingIdle = (await billingPasses(base)).count - billing0.count;

    const layout = await fleetLayout(url);
    const NONE = new Set<number>();
    let answered = 0;
    let listed = 0;
    const lat: number[] = [];
    let measuring = false;
    // Sequenced messages (heartbeats, results) go out one at a time per agent, as the real agent sends them.
    const send = (a: SimAgent, path: string, body: Record<string, unknown>): Promise<unknown> => {
      const next = a.chain.then(() => post(path, { machineId: a.machineId, session: a.session, seq: ++a.seq, ...body }, a.token));
      a.chain = next.catch(() => undefined);
      return next;
    };
    const run = (a: SimAgent): void => {
      loops.push(
        (async () => {
          while (running) {
            const r = (await post('/agent/v1/poll', { machineId: a.machineId, session: a.session, waitMs: 20_000 }, a.token).catch(() => null)) as {
              commands: AgentCommand[];
            } | null;
            if (r === null) {
              await sleep(100); // as the real agent: try again
              continue;
            }
            for (const c of r.commands) {
              if (c.op === 'inspect') answered++;
              if (c.op === 'list') listed++;
            }
            const h = { ids: layout.get(a.machineId) ?? [], exited: NONE };
            if (r.commands.length > 0)
              void send(a, '/agent/v1/results', { results: r.commands.map((c) => ({ ...answer(c, h), error: null })) }).catch(() => undefined);
          }
        })(),
        (async () => {
          // As the agent does (decision 021): every workload with its observation, so the sweep sends no `list`.
          const listing = PUSH_LISTINGS ? { listing: (layout.get(a.machineId) ?? []).map((id) => ({ id, state: 'running' })) } : {};
          const beat = (): Promise<unknown> =>
            send(a, '/agent/v1/heartbeat', { gpuUtils: [10, 20], usage: [], exited: [], progress: [], ...listing }).catch(() => undefined);
          await beat(); // the agent's first heartbeat follows its hello at once
          await sleep(Math.random() * a.everyMs); // then the fleet's heartbeats spread over the interval
          while (running) {
            const s = Date.now();
            await beat();
            if (measuring) lat.push(Date.now() - s);
            await sleep(Math.max(0, a.everyMs - (Date.now() - s)));
          }
        })(),
      );
    };
    const connect = async (i: number): Promise<void> => {
      const { token } = (await post('/api/v0/host_tokens/', { name: `scale-${i}` }, ADMIN_KEY)) as { token: string };
      const w = (await post('/agent/v1/hello', { hostKey: `scale-host-${i}`, imageNotice: null, machine: simulated(i) }, token)) as {
        machineId: number;
        session: string;
        heartbeatIntervalMs: number;
      };
      run({ token, machineId: w.machineId, session: w.session, seq: 0, chain: Promise.resolve(), everyMs: w.heartbeatIntervalMs });
    };
    for (let i = 0; i < AGENTS; i += 25) await Promise.all(Array.from({ length: Math.min(25, AGENTS - i) }, (_, k) => connect(i + k)));
    await sleep(3000); // the first looks at every newly connected host's instances out of the window
    const load0 = await procSample(pid);
    const billingLoad0 = await billingPasses(base);
    const a0 = answered;
    const l0 = listed;
    const s0 = await sweptHosts(base);
    measuring = true;
    const tl = Date.now();
    await sleep(WINDOW_S * 1000);
    const load1 = await procSample(pid);
    const loadS = (Date.now() - tl) / 1000;
    measuring = false;
    const inspectsPerS = (answered - a0) / loadS;
    const listsPerS = (listed - l0) / loadS;
    const swept = (await sweptHosts(base)) - s0;
    const sweptPerS = swept / loadS;
    process.stdout.write(
      `scale: ${PUSH_LISTINGS ? 'agents push listings' : 'agents answer list commands'}: ${sweptPerS.toFixed(0)} hosts swept/s, ` +
        `${listsPerS.toFixed(0)} lists/s and ${inspectsPerS.toFixed(0)} inspects/s answered by the agents in the window\n`,
    );
    const billing = await billingPasses(base);
    const passes = billing.count - billing0.count;
    // A window that happens to hold one pass more than the other differs by that pass's CPU: say how many each held.
    process.stdout.write(
      `scale: billing: the first pass ended ${firstS.toFixed(0)} s after start; passes in the idle window ${billingIdle}, ` +
        `in the agents' window ${billing.count - billingLoad0.count}; ${passes > 0 ? ((billing.sum - billing0.sum) / passes).toFixed(1) : '-'} s each\n`,
    );
    const name = `steady state (${INSTANCES} instances, ${MACHINES} machines, ${AGENTS} agents over HTTP, PostgreSQL)`;
    return [
      resourceRow(name, 'gantry server idle, same data, no agents (baseline)', { seconds: idleS, before: idle0, after: idle1 }, []),
      resourceRow(
        name,
        `agents heartbeating (default 10 s${PUSH_LISTINGS ? ', listings pushed' : ''}) + host sweeps (${sweptPerS.toFixed(0)} hosts/s, ${listsPerS.toFixed(0)} lists/s) and inspects (${inspectsPerS.toFixed(0)}/s)`,
        { seconds: loadS, before: load0, after: load1 },
        lat,
      ),
    ];
  } finally {
    running = false;
    server.kill('SIGTERM');
    await Promise.race([Promise.all(loops), sleep(5000)]);
    server.kill('SIGKILL');
  }
}
