import { join } from 'node:path';
import { resourceRow, type ResourceRow } from './fleet.js';
import { callApi, procSample, spawnGantry, until } from './util.js';

/**
 * What stopped endpoints cost a control plane that does nothing else: a real `gantry server` process
 * (SQLite) with none (the baseline), one with 200 stopped Vast endpoints that rest (the default), and
 * one whose 200 stopped endpoints are passed at every tick of the serverless loop (stoppedEndpointRecheckMs
 * of 1 ms: how every stopped endpoint was passed before rests). CPU from /proc, each server in turn.
 */
const ENDPOINTS = 200;
const WINDOW_S = 5;

async function server(dir: string, name: string, env: Record<string, string>): Promise<{ url: string; key: string; pid: number; kill: () => void }> {
  const port = 19000 + Math.floor(Math.random() * 2000);
  const key = 'gnt_bench_admin_key';
  const child = await spawnGantry(['server', '--port', String(port), '--data-dir', join(dir, name)], { GANTRY_ADMIN_KEY: key, GANTRY_RATE_LIMIT: '0', ...env });
  return { url: `http://127.0.0.1:${port}`, key, pid: child.pid as number, kill: () => child.kill('SIGKILL') };
}

async function cpuWindow(pid: number): Promise<{ seconds: number; before: { cpuS: number }; after: { cpuS: number; rssMb: number } }> {
  const before = await procSample(pid);
  const t = Date.now();
  await new Promise((r) => setTimeout(r, WINDOW_S * 1000));
  const after = await procSample(pid);
  return { seconds: (Date.now() - t) / 1000, before, after };
}

/** ENDPOINTS endpoints, each stopped; resolves once every one is stopped and a few ticks passed. */
async function stoppedEndpoints(s: { url: string; key: string }): Promise<void> {
  const api = (method: string, path: string, body?: unknown): Promise<any> => callApi(s.url, s.key, method, path, body);
  for (let i = 0; i < ENDPOINTS; i += 20) {
    await Promise.all(
      Array.from({ length: 20 }, async (_, j) => {
        const ep = await api('POST', '/api/v0/endptjobs/', { endpoint_name: `idle-${i + j}`, min_load: 0, cold_workers: 0 });
        await api('PUT', `/api/v0/endptjobs/${ep.id as number}/`, { endpoint_state: 'stopped' });
      }),
    );
  }
  await until(async () => {
    const list = (await api('GET', '/api/v0/endptjobs/')).results as { gantry_status: string }[];
    return list.length === ENDPOINTS && list.every((e) => e.gantry_status === 'stopped');
  });
  await new Promise((r) => setTimeout(r, 2000));
}

export async function stoppedEndpointsBench(dir: string): Promise<ResourceRow[]> {
  const empty = await server(dir, 'empty', {});
  const resting = await server(dir, 'rest', {});
  const ticking = await server(dir, 'tick', { GANTRY_STOPPED_ENDPOINT_RECHECK_MS: '1' });
  try {
    await stoppedEndpoints(resting);
    await stoppedEndpoints(ticking);
    // In turn, after all three settled, so the machine's drift falls on each alike.
    const idle = await cpuWindow(empty.pid);
    const tick = await cpuWindow(ticking.pid);
    const rest = await cpuWindow(resting.pid);
    const name = `serverless loop with ${ENDPOINTS} stopped endpoints (gantry server, SQLite, autoscaleIntervalMs 1 s)`;
    return [
      resourceRow(name, 'no endpoint (baseline)', idle, []),
      resourceRow(name, 'each passed at every tick (stoppedEndpointRecheckMs 1 ms)', tick, []),
      resourceRow(name, 'resting (the default: passed every 60 s, and on a change)', rest, []),
    ];
  } finally {
    for (const s of [empty, resting, ticking]) s.kill();
  }
}
