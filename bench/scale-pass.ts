import { loadConfig } from '../src/config/load.js';
import { AgentSession, type AgentCommand, type AgentResult } from '../src/control/hosts/agent-session.js';
import { createLogger } from '../src/log/logger.js';
import { startGantry } from '../src/main/up.js';
import { INSTANCES, MACHINES, seedFleet, withClient } from './scale-seed.js';
import { NO_LIMITS } from './util.js';

/** Every machine last swept at $1 (its sweep row made where missing). */
export const SWEPT_AT =
  'INSERT INTO host_sweeps (id, last_swept_at) SELECT id, $1 FROM machines WHERE true ON CONFLICT (id) DO UPDATE SET last_swept_at = excluded.last_swept_at';

/** A simulated host's workloads: its instances' ids, and those the bench made report an exit. */
export interface SimHost {
  readonly ids: readonly number[];
  readonly exited: ReadonlySet<number>;
}

const look = (h: SimHost, id: number): Record<string, unknown> => (h.exited.has(id) ? { state: 'exited', exitCode: 0 } : { state: 'running' });

/** What a simulated agent answers: every workload runs (the steady state) unless the bench made it exit. */
export const answer = (c: AgentCommand, h: SimHost): AgentResult => {
  if (c.op === 'inspect') return { id: c.id, ok: true, value: look(h, c.instanceId) };
  if (c.op === 'list') return { id: c.id, ok: true, value: c.observe === true ? h.ids.map((id) => ({ id, ...look(h, id) })) : [...h.ids] };
  return { id: c.id, ok: true, value: null };
};

/** Each machine's instance ids, from the store (as the seeding laid them out). */
export async function fleetLayout(url: string): Promise<Map<number, number[]>> {
  const r = await withClient(url, (c) =>
    c.query<{ id: number; machine_id: number }>("SELECT id, machine_id FROM instances WHERE status <> 'destroyed' ORDER BY id"),
  );
  const out = new Map<number, number[]>();
  for (const row of r.rows) {
    const m = Number(row.machine_id);
    const ids = out.get(m);
    if (ids === undefined) out.set(m, [Number(row.id)]);
    else ids.push(Number(row.id));
  }
  return out;
}

export interface Pass {
  /** Wall time from every host due to the last one swept and the last handed-over row looked at, or to the bound. */
  readonly ms: number;
  /** Hosts swept within `ms` (MACHINES when the pass completed). */
  readonly swept: number;
  /** Rows the sweep handed to the per-instance path, and the inspects and lists the agents answered. */
  readonly handedOver: number;
  readonly lists: number;
  readonly inspects: number;
  readonly done: boolean;
}

/**
 * Full reconcile passes, in-process: the control plane (startGantry, no API traffic) on the bench's
 * PostgreSQL, every machine a real AgentSession whose simulated agent answers each command as soon as it
 * takes it. A pass (decision 017): every host made due at once, each swept (one observing `list`, its
 * instances compared in the store) and stamped, and every row the sweep handed over looked at by the
 * per-instance path; it ends when the store shows every machine swept since it began and every exit the
 * agents report recorded, or at `boundMs`. The first two passes find everything as
 * recorded (the first right after start); before the third, `exitedPerMille` of the workloads are made to
 * report an exit (each handed over and recorded exited from the sweep's observation). The billing loop is held off: it settles
 * 100,000 instances' meters and would time itself here (the steady state includes it).
 */
export async function reconcilePasses(url: string, dataDir: string, adminKey: string, seed: boolean, exitedPerMille: number, boundMs: number): Promise<Pass[]> {
  const config = loadConfig({
    env: {},
    flags: { dataDir, port: 0, database: url, logLevel: 'silent', adminKey, machineOfflineMs: 600_000, billingIntervalMs: 3_600_000, ...NO_LIMITS },
  });
  const g = await startGantry({ config, workloadEnv: {}, localHost: false, log: createLogger('silent') });
  let running = true;
  const agents: Promise<void>[] = [];
  try {
    const t = Date.now();
    if (seed) {
      await seedFleet(url, t, t);
      process.stdout.write(`scale: seeded ${MACHINES} machines, ${INSTANCES} instances in ${Date.now() - t} ms\n`);
    }
    // Not due until a pass begins: swept "in the future".
    await withClient(url, (c) => c.query(SWEPT_AT, [t + 86_400_000]));
    const layout = await fleetLayout(url);
    const hosts = new Map<number, { ids: number[]; exited: Set<number> }>();
    for (const [m, ids] of layout) hosts.set(m, { ids, exited: new Set() });
    let inspects = 0;
    let lists = 0;
    const ctx = g.control.ctx;
    const s = ctx.settings;
    const timings = {
      callTimeoutMs: s.agentCallTimeoutMs,
      stepTimeoutMs: s.stepTimeoutMs,
      connectedWindowMs: 2 * s.agentPollWaitMs + 2_000,
      heartbeatWindowMs: 600_000,
    };
    for (const [machineId, h] of hosts) {
      const session = new AgentSession(machineId, null, timings, () => Date.now());
      ctx.hosts.set(machineId, session);
      agents.push(
        (async () => {
          while (running) {
            const cmds = await session.take(1000, 100);
            for (const c of cmds) {
              if (c.op === 'inspect') inspects++;
              if (c.op === 'list') lists++;
            }
            session.settle(cmds.map((c) => answer(c, h)));
            session.lastHeartbeatAt = Date.now();
          }
        })(),
      );
    }
    const totals = g.control.reconciler.totals;
    const counted = async (what: 'swept' | 'exited'): Promise<number> => {
      const values =
        what === 'swept'
          ? (await ctx.metrics.hostSweeps.get()).values.filter((x) => x.labels.outcome === 'swept')
          : (await ctx.metrics.instanceTransitions.get()).values.filter((x) => x.labels.to === 'exited');
      return values[0]?.value ?? 0;
    };
    const passes: Pass[] = [];
    // The first pass after start (cold: JIT, the database's caches), then the same warm, then with exits.
    for (const exits of [0, 0, exitedPerMille]) {
      let k = 0;
      for (const h of hosts.values()) for (const id of h.ids) if (exits > 0 && k++ % 1000 < exits) h.exited.add(id);
      const wanted = [...hosts.values()].reduce((n, h) => n + h.exited.size, 0);
      passes.push(
        await withClient(url, async (c) => {
          const [i0, l0, h0] = [inspects, lists, totals.handedOver];
          const [swept0, exited0] = [await counted('swept'), await counted('exited')];
          // Every host due (not timed: the bench's own statement), then the pass from the wake-up on.
          await c.query(SWEPT_AT, [0]);
          const t0 = Date.now();
          ctx.wake();
          let left = MACHINES;
          let recorded = 0;
          // The replica's own counts say when to look (the store's counts are scans: asked every few ms, they
          // would load the database the pass runs on); the store then confirms.
          while ((await counted('swept')) < swept0 + MACHINES || (await counted('exited')) < exited0 + wanted) {
            if (Date.now() >= t0 + boundMs) break;
            await new Promise((r) => setTimeout(r, 2));
          }
          // Done: every host swept since the pass began, and every exit the agents report recorded.
          for (let first = true; (left > 0 || recorded < wanted) && Date.now() < t0 + boundMs; first = false) {
            if (!first) await new Promise((r) => setTimeout(r, 5));
            const r = await c.query<{ left: string; recorded: string }>(
              "SELECT (SELECT count(*) FROM host_sweeps WHERE last_swept_at < $1) AS left, (SELECT count(*) FROM instances WHERE status = 'exited') AS recorded",
              [t0],
            );
            left = Number(r.rows[0]?.left);
            recorded = Number(r.rows[0]?.recorded);
          }
          const done = left === 0 && recorded >= wanted;
          return { ms: Date.now() - t0, swept: MACHINES - left, handedOver: totals.handedOver - h0, lists: lists - l0, inspects: inspects - i0, done };
        }),
      );
    }
    return passes;
  } finally {
    running = false;
    await g.close();
    await Promise.all(agents);
  }
}

/** The floor: the same rows read by one plain SELECT (median of 3). */
export async function selectAll(url: string): Promise<number[]> {
  return withClient(url, async (c) => {
    const ms: number[] = [];
    for (let i = 0; i < 3; i++) {
      const t0 = process.hrtime.bigint();
      const r = await c.query('SELECT * FROM instances');
      ms.push(Number(process.hrtime.bigint() - t0) / 1e6);
      if (r.rows.length < INSTANCES) throw new Error(`scale: the floor read ${r.rows.length} rows`);
    }
    return ms;
  });
}
