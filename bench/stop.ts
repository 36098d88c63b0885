import { spawn } from 'node:child_process';
import { join } from 'node:path';
import Docker from 'dockerode';
import { callApi, pair, startBenchGantry, until, type LatencyRow } from './util.js';

/**
 * Instance stop → stopped recorded and its GPUs offered again, for a workload that exits at once on
 * SIGTERM, with the control plane's default intervals (the stop wakes the reconciler; nothing waits
 * for a poll). Beside it, in the same run and in turns with it: a SIGTERM to the same command spawned
 * directly (process runtime), and `docker stop` of a container Gantry runs (docker runtime on Podman).
 */
const RUNS = 20;
/** Exits at once on SIGTERM, also as a container's PID 1 (which gets no default signal handlers). */
const COMMAND = `trap 'exit 0' TERM; sleep 600 & wait`;

const time = async (f: () => Promise<unknown>): Promise<number> => {
  const t = process.hrtime.bigint();
  await f();
  return Number(process.hrtime.bigint() - t) / 1e6;
};

type Api = (method: string, path: string, body?: unknown) => Promise<any>;

/**
 * One measurement of each way in turn, the order swapped every round: the machine's drift (the two ways are
 * a few hundred ms apart on Podman, and a run's stops move by tens of ms over a minute) falls on both alike,
 * where measuring all of one way and then all of the other put it into their difference.
 */
async function inTurns(base: () => Promise<number>, subject: () => Promise<number>): Promise<[number[], number[]]> {
  const b: number[] = [];
  const s: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    if (i % 2 === 0) b.push(await base());
    s.push(await subject());
    if (i % 2 === 1) b.push(await base());
  }
  return [b, s];
}

/** An instance running COMMAND on the machine's 1-GPU offer, once it reads running. */
async function runningInstance(api: Api, machine: number, image: string): Promise<number> {
  const c = await api('PUT', `/api/v0/asks/${machine * 1000 + 1}/`, { image, onstart: COMMAND, runtype: 'args' });
  const id = c.new_contract as number;
  while ((await api('GET', `/api/v0/instances/${id}/`)).instances.actual_status !== 'running') await new Promise((r) => setTimeout(r, 5));
  return id;
}

/** Through the API: PUT state=stopped until the instance reads stopped and both GPUs are offered. */
async function apiStop(api: Api, machine: number, image: string): Promise<number> {
  const id = await runningInstance(api, machine, image);
  const status = async (): Promise<string> => (await api('GET', `/api/v0/instances/${id}/`)).instances.actual_status as string;
  const freeGpus = async (): Promise<number> => (await api('POST', '/api/v0/bundles/', { num_gpus: { eq: 2 } })).offers.length as number;
  const ms = await time(async () => {
    await api('PUT', `/api/v0/instances/${id}/`, { state: 'stopped' });
    while ((await status()) !== 'stopped' || (await freeGpus()) !== 1) await new Promise((r) => setTimeout(r, 1));
  });
  await api('DELETE', `/api/v0/instances/${id}/`);
  return ms;
}

/** The same command spawned directly: SIGTERM → its exit seen. */
async function directStop(): Promise<number> {
  // A group of its own: the `sleep` the shell leaves behind goes with it afterwards (20 leftovers a run made
  // every later process-table scan of the machine slower, the runtime's stops among them).
  const c = spawn('bash', ['-c', COMMAND], { stdio: 'ignore', detached: true });
  await new Promise((res, rej) => {
    c.once('spawn', res);
    c.once('error', rej);
  });
  await new Promise((r) => setTimeout(r, 20)); // the trap is set
  const exited = new Promise((r) => c.once('exit', r));
  const ms = await time(() => (c.kill('SIGTERM'), exited));
  try {
    process.kill(-(c.pid as number), 'SIGKILL');
  } catch {
    // gone already
  }
  return ms;
}

/**
 * `docker stop` (the Engine API's) of the very containers Gantry runs: an instance is created through the API
 * and, once running, its container (found by its instance label) is stopped straight at the engine.
 */
async function engineStop(api: Api, machine: number, image: string, docker: Docker): Promise<number> {
  const id = await runningInstance(api, machine, image);
  const [c] = await docker.listContainers({ filters: { label: [`gantry.instance-id=${id}`] } });
  if (c === undefined) throw new Error(`bench: no container for instance ${id}`);
  const ms = await time(() => docker.getContainer(c.Id).stop({ t: 3 }));
  await api('DELETE', `/api/v0/instances/${id}/`);
  return ms;
}

/** Stops of one Gantry (default loop intervals: what a user gets, not the fast ones of the other benches) beside a baseline, in turns. */
async function stopsBeside(
  dir: string,
  rt: { runtime: string; dockerHost?: string; image: string },
  base: (api: Api, machine: number) => Promise<number>,
): Promise<[number[], number[]]> {
  const g = await startBenchGantry(join(dir, `stop-${rt.runtime}`), '2x RTX 4090:24GB', { ...rt, observeIntervalMs: 1_000, reconcileIdleMs: 250 });
  const api: Api = (method, path, body) => callApi(g.url, g.adminKey ?? '', method, path, body);
  // Each measurement after the last one's destroy is done: its work (a /proc scan, files removed) would fall
  // on the next, and the SIGTERM baseline, timed 20 ms after its spawn, would take it more often than a stop.
  const atRest = async (): Promise<void> => void (await until(async () => ((await g.runtime?.list())?.length ?? 0) === 0, 30_000));
  try {
    const machine = (await api('GET', '/api/v0/machines/')).machines[0].id as number;
    return await inTurns(
      async () => (await atRest(), base(api, machine)),
      async () => (await atRest(), apiStop(api, machine, rt.image)),
    );
  } finally {
    await g.close(); // its workloads go with it (dataDirGoes)
  }
}

export async function stopBench(dir: string, podman: { dockerHost?: string; image?: string; skip?: string }): Promise<LatencyRow[]> {
  const [signal, process_] = await stopsBeside(dir, { runtime: 'process', image: 'none' }, () => directStop());
  const rows = pair(
    'instance stop → stopped recorded and GPUs offered (workload exits on SIGTERM)',
    ['SIGTERM to the same command spawned directly (baseline)', signal],
    ['process runtime: PUT state=stopped until stopped and offered', process_],
  );
  if (podman.dockerHost === undefined || podman.image === undefined) {
    process.stdout.write(`instance stop on the docker runtime skipped: ${podman.skip ?? 'no engine'}\n`);
    return rows;
  }
  const docker = new Docker({ socketPath: podman.dockerHost.replace(/^unix:\/\//, '') });
  const image = podman.image;
  const [engine, runtime] = await stopsBeside(dir, { runtime: 'docker', dockerHost: podman.dockerHost, image }, (api, machine) =>
    engineStop(api, machine, image, docker),
  );
  return [
    ...rows,
    ...pair(
      'instance stop → stopped recorded and GPUs offered, containers',
      ['docker stop of the same containers, straight at the engine (baseline)', engine],
      ['docker runtime on Podman: PUT state=stopped until stopped and offered', runtime],
    ),
  ];
}
