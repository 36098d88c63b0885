import { loadConfig } from '../src/config/load.js';
import { AgentSession, type AgentCommand, type AgentResult } from '../src/control/hosts/agent-session.js';
import { createLogger } from '../src/log/logger.js';
import { startGantry } from '../src/main/up.js';
import { INSTANCES, MACHINES, seedFleet, withClient } from './scale-seed.js';
import { NO_LIMITS } from './util.js';

/** What a simulated agent answers: every workload runs (the steady state), nothing else to report. */
export const answer = (c: AgentCommand): AgentResult =>
  c.op === 'inspect' ? { id: c.id, ok: true, value: { state: 'running' } } : { id: c.id, ok: true, value: c.op === 'list' ? [] : null };

export interface Pass {
  /** Wall time from all rows due to the last one looked at, or to the bound. */
  readonly ms: number;
  /** Rows looked at within `ms` (INSTANCES when the pass completed). */
  readonly looked: number;
  readonly inspects: number;
  readonly done: boolean;
}

export interface PassSettings {
  readonly reconcileConcurrency?: number;
  readonly reconcileBatch?: number;
}

/**
 * One full reconcile pass, in-process: the control plane (startGantry, no API traffic) on the bench's
 * PostgreSQL, every machine a real AgentSession whose simulated agent answers each command as soon as it
 * takes it. Every row is made due at once; the pass ends when the store shows each looked at since
 * (releasing the lease stamps last_processed_at), or at `boundMs`. The billing loop is held off: it
 * settles 100,000 instances' meters and would time itself here (the steady state includes it).
 */
export async function reconcilePass(url: string, dataDir: string, adminKey: string, o: PassSettings, seed: boolean, boundMs: number): Promise<Pass> {
  const config = loadConfig({
    env: {},
    flags: { dataDir, port: 0, database: url, logLevel: 'silent', adminKey, machineOfflineMs: 600_000, billingIntervalMs: 3_600_000, ...NO_LIMITS, ...o },
  });
  const g = await startGantry({ config, workloadEnv: {}, localHost: false, log: createLogger('silent') });
  let running = true;
  const agents: Promise<void>[] = [];
  try {
    const t = Date.now();
    // Not due until the pass begins: last looked at "in the future".
    if (seed) {
      await seedFleet(url, t, t + 86_400_000);
      process.stdout.write(`scale: seeded ${MACHINES} machines, ${INSTANCES} instances in ${Date.now() - t} ms\n`);
    } else await withClient(url, (c) => c.query('UPDATE instances SET last_processed_at = $1', [t + 86_400_000]));
    const first = await withClient(url, (c) => c.query<{ id: number }>("SELECT min(id) AS id FROM machines WHERE host_key LIKE 'scale-host-%'"));
    const firstMachineId = Number(first.rows[0]?.id);
    let inspects = 0;
    const ctx = g.control.ctx;
    const s = ctx.settings;
    const timings = {
      callTimeoutMs: s.agentCallTimeoutMs,
      stepTimeoutMs: s.stepTimeoutMs,
      connectedWindowMs: 2 * s.agentPollWaitMs + 2_000,
      heartbeatWindowMs: 600_000,
    };
    for (let i = 0; i < MACHINES; i++) {
      const session = new AgentSession(firstMachineId + i, null, timings, () => Date.now());
      ctx.hosts.set(firstMachineId + i, session);
      agents.push(
        (async () => {
          while (running) {
            const cmds = await session.take(1000, 100);
            for (const c of cmds) if (c.op === 'inspect') inspects++;
            session.settle(cmds.map(answer));
            session.lastHeartbeatAt = Date.now();
          }
        })(),
      );
    }
    return await withClient(url, async (c) => {
      await c.query('UPDATE instances SET last_processed_at = 0');
      await c.query('ANALYZE instances'); // as autovacuum would after such a change: the planner knows the rows are due
      const i0 = inspects;
      const t0 = Date.now();
      ctx.wake();
      let left = INSTANCES;
      while (left > 0 && Date.now() < t0 + boundMs) {
        await new Promise((r) => setTimeout(r, 50));
        left = Number((await c.query<{ n: string }>('SELECT count(*) AS n FROM instances WHERE last_processed_at < $1', [t0])).rows[0]?.n);
      }
      return { ms: Date.now() - t0, looked: INSTANCES - left, inspects: inspects - i0, done: left === 0 };
    });
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
