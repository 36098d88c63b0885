import { spawn } from 'node:child_process';
import { join } from 'node:path';
import Docker from 'dockerode';
import { callApi, pair, startBenchGantry, type LatencyRow } from './util.js';

/**
 * Instance stop → stopped recorded and its GPUs offered again, for a workload that exits at once on
 * SIGTERM, with the control plane's default intervals (the stop wakes the reconciler; nothing waits
 * for a poll). Beside it, in the same run: a SIGTERM to the same command spawned directly (process
 * runtime), and `docker stop` of a container running the same command (docker runtime on Podman).
 */
const RUNS = 20;
/** Exits at once on SIGTERM, also as a container's PID 1 (which gets no default signal handlers). */
const COMMAND = `trap 'exit 0' TERM; sleep 600 & wait`;

const time = async (f: () => Promise<unknown>): Promise<number> => {
  const t = process.hrtime.bigint();
  await f();
  return Number(process.hrtime.bigint() - t) / 1e6;
};

/** Stop times through the API: PUT state=stopped until the instance reads stopped and both GPUs are offered. */
async function apiStops(dir: string, rt: { runtime: string; dockerHost?: string; image: string }): Promise<number[]> {
  // Default loop intervals (what a user gets), not the fast ones of the other benches.
  const g = await startBenchGantry(join(dir, `stop-${rt.runtime}`), '2x RTX 4090:24GB', { ...rt, observeIntervalMs: 1_000, reconcileIdleMs: 250 });
  const api = (method: string, path: string, body?: unknown): Promise<any> => callApi(g.url, g.adminKey ?? '', method, path, body);
  const ids: number[] = [];
  try {
    const machine = (await api('GET', '/api/v0/machines/')).machines[0].id as number;
    const status = async (id: number): Promise<string> => (await api('GET', `/api/v0/instances/${id}/`)).instances.actual_status as string;
    const freeGpus = async (): Promise<number> => (await api('POST', '/api/v0/bundles/', { num_gpus: { eq: 2 } })).offers.length as number;
    const times: number[] = [];
    for (let i = 0; i < RUNS; i++) {
      const c = await api('PUT', `/api/v0/asks/${machine * 1000 + 1}/`, { image: rt.image, onstart: COMMAND, runtype: 'args' });
      const id = c.new_contract as number;
      ids.push(id);
      while ((await status(id)) !== 'running') await new Promise((r) => setTimeout(r, 5));
      times.push(
        await time(async () => {
          await api('PUT', `/api/v0/instances/${id}/`, { state: 'stopped' });
          while ((await status(id)) !== 'stopped' || (await freeGpus()) !== 1) await new Promise((r) => setTimeout(r, 1));
        }),
      );
      await api('DELETE', `/api/v0/instances/${id}/`);
    }
    return times;
  } finally {
    for (const id of ids) await g.runtime?.destroy(id, { graceMs: 200 }).catch(() => undefined);
    await g.close();
  }
}

/** The same command spawned directly: SIGTERM → its exit seen. */
async function directStops(): Promise<number[]> {
  const times: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    // A group of its own: the `sleep` the shell leaves behind goes with it afterwards (20 leftovers a run made
    // every later process-table scan of the machine slower, the runtime's stops among them).
    const c = spawn('bash', ['-c', COMMAND], { stdio: 'ignore', detached: true });
    await new Promise((res, rej) => {
      c.once('spawn', res);
      c.once('error', rej);
    });
    await new Promise((r) => setTimeout(r, 20)); // the trap is set
    const exited = new Promise((r) => c.once('exit', r));
    times.push(await time(() => (c.kill('SIGTERM'), exited)));
    try {
      process.kill(-(c.pid as number), 'SIGKILL');
    } catch {
      // gone already
    }
  }
  return times;
}

/**
 * `docker stop` (the Engine API's) of the very containers Gantry runs: an instance is created through the API
 * and, once running, its container (found by its instance label) is stopped straight at the engine.
 */
async function dockerStops(dir: string, rt: { dockerHost: string; image: string }): Promise<number[]> {
  const docker = new Docker({ socketPath: rt.dockerHost.replace(/^unix:\/\//, '') });
  const g = await startBenchGantry(join(dir, 'stop-docker-direct'), '2x RTX 4090:24GB', { runtime: 'docker', dockerHost: rt.dockerHost });
  const api = (method: string, path: string, body?: unknown): Promise<any> => callApi(g.url, g.adminKey ?? '', method, path, body);
  const times: number[] = [];
  const ids: number[] = [];
  try {
    const machine = (await api('GET', '/api/v0/machines/')).machines[0].id as number;
    for (let i = 0; i < RUNS; i++) {
      const id = (await api('PUT', `/api/v0/asks/${machine * 1000 + 1}/`, { image: rt.image, onstart: COMMAND, runtype: 'args' })).new_contract as number;
      while ((await api('GET', `/api/v0/instances/${id}/`)).instances.actual_status !== 'running') await new Promise((r) => setTimeout(r, 5));
      const [c] = await docker.listContainers({ filters: { label: [`gantry.instance-id=${id}`] } });
      ids.push(id);
      if (c === undefined) throw new Error(`bench: no container for instance ${id}`);
      times.push(await time(() => docker.getContainer(c.Id).stop({ t: 3 })));
      await api('DELETE', `/api/v0/instances/${id}/`);
    }
    return times;
  } finally {
    for (const id of ids) await g.runtime?.destroy(id, { graceMs: 200 }).catch(() => undefined);
    await g.close();
  }
}

export async function stopBench(dir: string, podman: { dockerHost?: string; image?: string; skip?: string }): Promise<LatencyRow[]> {
  const rows = pair(
    'instance stop → stopped recorded and GPUs offered (workload exits on SIGTERM)',
    ['SIGTERM to the same command spawned directly (baseline)', await directStops()],
    ['process runtime: PUT state=stopped until stopped and offered', await apiStops(dir, { runtime: 'process', image: 'none' })],
  );
  if (podman.dockerHost === undefined || podman.image === undefined) {
    process.stdout.write(`instance stop on the docker runtime skipped: ${podman.skip ?? 'no engine'}\n`);
    return rows;
  }
  return [
    ...rows,
    ...pair(
      'instance stop → stopped recorded and GPUs offered, containers',
      ['docker stop of the same containers, straight at the engine (baseline)', await dockerStops(dir, { dockerHost: podman.dockerHost, image: podman.image })],
      [
        'docker runtime on Podman: PUT state=stopped until stopped and offered',
        await apiStops(dir, { runtime: 'docker', dockerHost: podman.dockerHost, image: podman.image }),
      ],
    ),
  ];
}
