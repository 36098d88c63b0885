import { resourceRow, type ResourceRow } from './fleet.js';
import { cpuWindow, server } from './stopped.js';
import { callApi, until, workerDeployment } from './util.js';

/**
 * What endpoints down to their cold workers cost: real `gantry up` processes (SQLite, a local host on the
 * process runtime) with none (the baseline) and with ENDPOINTS Vast deployments of one cold worker each
 * (`min_load 0`, `min_workers 1`, `cold_workers 1`: recruited, benchmarked, then stopped and kept), resting
 * (the default) and passed at every tick (idleEndpointRecheckMs of 1 ms: as before decision 026's cold rest).
 * CPU from /proc, each server in turn, once every worker is Inactive.
 */
const ENDPOINTS = 40;
const UP = ['--gpus', `${ENDPOINTS}x RTX 4090:24GB`, '--runtime', 'process'];
/** The from-zero settle of each worker (recruited, then stopped) in seconds rather than minutes. */
const FAST = { GANTRY_AUTOSCALE_WINDOW_MS: '1000', GANTRY_SCALE_DOWN_DELAY_MS: '1000' };

async function coldEndpoints(s: { url: string; key: string }): Promise<void> {
  const api = (method: string, path: string, body?: unknown): Promise<any> => callApi(s.url, s.key, method, path, body);
  for (let i = 0; i < ENDPOINTS; i += 10) {
    await Promise.all(
      Array.from({ length: 10 }, async (_, j) => {
        const r = await api('POST', '/api/v0/deployments/', workerDeployment(`cold-${i + j}`, { min_load: 0, min_workers: 1, cold_workers: 1 }));
        if (r.success !== true) throw new Error(`bench: create deployment: ${JSON.stringify(r)}`);
      }),
    );
  }
  await until(async () => {
    const list = (await api('GET', '/api/v0/instances/')).instances as { actual_status: string; intended_status: string }[];
    return list.length === ENDPOINTS && list.every((x) => x.actual_status === 'stopped' && x.intended_status === 'stopped');
  }, 180_000);
  await new Promise((r) => setTimeout(r, 2000));
}

export async function coldEndpointsBench(dir: string): Promise<ResourceRow[]> {
  // Three hosts on one machine: each its own ports and sandbox uids.
  const own = (n: number) => ({
    ...FAST,
    GANTRY_PORT_RANGE_START: String(44000 + n * 200),
    GANTRY_PORT_RANGE_END: String(44199 + n * 200),
    GANTRY_SANDBOX_UID_BASE: String(1_100_000_000 + n * 1_000_000),
  });
  const none = await server(dir, 'cold-none', own(0), UP);
  const rest = await server(dir, 'cold-rest', own(1), UP);
  const tick = await server(dir, 'cold-tick', { ...own(2), GANTRY_IDLE_ENDPOINT_RECHECK_MS: '1' }, UP);
  try {
    // One after the other: each recruits and starts ENDPOINTS worker processes.
    await coldEndpoints(rest);
    await coldEndpoints(tick);
    const name = `serverless loop with ${ENDPOINTS} endpoints down to one cold worker each (gantry up, SQLite, process runtime)`;
    const w = { none: await cpuWindow(none.pid), tick: await cpuWindow(tick.pid), rest: await cpuWindow(rest.pid) };
    return [
      resourceRow(name, 'no endpoint (baseline)', w.none, []),
      resourceRow(name, 'cold workers only, each endpoint passed at every tick (idleEndpointRecheckMs 1 ms)', w.tick, []),
      resourceRow(name, 'cold workers only, resting (the default: passed every 60 s, on a change or a request)', w.rest, []),
    ];
  } finally {
    for (const s of [none, rest, tick]) s.kill();
  }
}
