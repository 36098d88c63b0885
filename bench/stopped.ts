import { join } from 'node:path';
import { resourceRow, type ResourceRow } from './fleet.js';
import { callApi, procSample, spawnGantry, until } from './util.js';

/**
 * What endpoints with nothing to do cost a control plane that does nothing else: real `gantry server`
 * processes (SQLite, no host) with none (the baseline), with 200 stopped Vast endpoints, and with 200
 * running ones scaled to zero (min_load 0, no worker, a workergroup each); each kind resting (the default)
 * and passed at every tick of the serverless loop (stoppedEndpointRecheckMs or idleEndpointRecheckMs of
 * 1 ms: how they were passed before rests, decisions 025 and 026). CPU from /proc, each server in turn.
 */
const ENDPOINTS = 200;
const WINDOW_S = 5;

/** A `gantry server` (or, with `up`'s arguments, `gantry up`) of its own, rate limits off. */
export async function server(
  dir: string,
  name: string,
  env: Record<string, string>,
  up: readonly string[] | null = null,
): Promise<{ url: string; key: string; pid: number; kill: () => void }> {
  const port = 19000 + Math.floor(Math.random() * 2000);
  const key = 'gnt_bench_admin_key';
  const args = [up === null ? 'server' : 'up', ...(up ?? []), '--port', String(port), '--data-dir', join(dir, name)];
  const child = await spawnGantry(args, { GANTRY_ADMIN_KEY: key, GANTRY_RATE_LIMIT: '0', ...env });
  return { url: `http://127.0.0.1:${port}`, key, pid: child.pid as number, kill: () => child.kill('SIGKILL') };
}

/** The process's CPU over WINDOW_S seconds, from /proc. */
export async function cpuWindow(pid: number): Promise<{ seconds: number; before: { cpuS: number }; after: { cpuS: number; rssMb: number } }> {
  const before = await procSample(pid);
  const t = Date.now();
  await new Promise((r) => setTimeout(r, WINDOW_S * 1000));
  const after = await procSample(pid);
  return { seconds: (Date.now() - t) / 1000, before, after };
}

/** ENDPOINTS endpoints, each stopped or running with no worker; resolves once every one is so and a few ticks passed. */
async function endpoints(s: { url: string; key: string }, stopped: boolean): Promise<void> {
  const api = (method: string, path: string, body?: unknown): Promise<any> => callApi(s.url, s.key, method, path, body);
  for (let i = 0; i < ENDPOINTS; i += 20) {
    await Promise.all(
      Array.from({ length: 20 }, async (_, j) => {
        const ep = await api('POST', '/api/v0/endptjobs/', { endpoint_name: `idle-${i + j}`, min_load: 0, cold_workers: 0, min_workers: 0 });
        await api('POST', '/api/v0/workergroups/', { endpoint_id: ep.id, search_params: 'num_gpus=1', launch_args: '--image busybox' });
        if (stopped) await api('PUT', `/api/v0/endptjobs/${ep.id as number}/`, { endpoint_state: 'stopped' });
      }),
    );
  }
  const status = stopped ? 'stopped' : 'pending';
  await until(async () => {
    const list = (await api('GET', '/api/v0/endptjobs/')).results as { gantry_status: string }[];
    return list.length === ENDPOINTS && list.every((e) => e.gantry_status === status);
  });
  await new Promise((r) => setTimeout(r, 2000));
}

export async function stoppedEndpointsBench(dir: string): Promise<ResourceRow[]> {
  const empty = await server(dir, 'empty', {});
  const servers = {
    stoppedRest: await server(dir, 'stopped-rest', {}),
    stoppedTick: await server(dir, 'stopped-tick', { GANTRY_STOPPED_ENDPOINT_RECHECK_MS: '1' }),
    idleRest: await server(dir, 'idle-rest', {}),
    idleTick: await server(dir, 'idle-tick', { GANTRY_IDLE_ENDPOINT_RECHECK_MS: '1' }),
  };
  try {
    await Promise.all([
      endpoints(servers.stoppedRest, true),
      endpoints(servers.stoppedTick, true),
      endpoints(servers.idleRest, false),
      endpoints(servers.idleTick, false),
    ]);
    // In turn, after all settled, so the machine's drift falls on each alike.
    const none = await cpuWindow(empty.pid);
    const stoppedTick = await cpuWindow(servers.stoppedTick.pid);
    const stoppedRest = await cpuWindow(servers.stoppedRest.pid);
    const idleTick = await cpuWindow(servers.idleTick.pid);
    const idleRest = await cpuWindow(servers.idleRest.pid);
    const name = `serverless loop with ${ENDPOINTS} endpoints with nothing to do (gantry server, SQLite, autoscaleIntervalMs 1 s)`;
    return [
      resourceRow(name, 'no endpoint (baseline)', none, []),
      resourceRow(name, 'stopped, each passed at every tick (stoppedEndpointRecheckMs 1 ms)', stoppedTick, []),
      resourceRow(name, 'stopped, resting (the default: passed every 60 s, and on a change)', stoppedRest, []),
      resourceRow(name, 'running at zero workers, each passed at every tick (idleEndpointRecheckMs 1 ms)', idleTick, []),
      resourceRow(name, 'running at zero workers, resting (the default: passed every 60 s, on a change or a request)', idleRest, []),
    ];
  } finally {
    for (const s of [empty, ...Object.values(servers)]) s.kill();
  }
}
