import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { probeBwrap } from '../src/runtime/process/sandbox.js';
import { callApi, pair, startBenchGantry, type LatencyRow } from './util.js';

/**
 * The process sandbox's cost, sandboxed vs bare on the same machine in the same run: create → running through
 * the API, and the run time of a CPU-bound workload (node summing 200 million numbers, timed inside the instance).
 */
const RUNS = 8;
const CPU_RUNS = 4;

const CPU = `s=$(date +%s%N); "$GANTRY_NODE" -e 'let x=0; for (let i=0; i<2e8; i++) x+=i; if (x<0) console.log(x)'; e=$(date +%s%N); echo $(( (e-s)/1000 )) > "$HOME/cpu-us"`;

async function measure(dir: string, sandbox: 'bwrap' | 'off'): Promise<{ create: number[]; cpu: number[] }> {
  const dataDir = join(dir, `sandbox-${sandbox}`);
  const g = await startBenchGantry(dataDir, '16x RTX 4090:24GB', { processSandbox: sandbox, unsafeSharedProcessRuntime: true });
  const ids: number[] = [];
  try {
    const api = (method: string, path: string, body?: unknown): Promise<Record<string, unknown>> => callApi(g.url, g.adminKey ?? '', method, path, body);
    const create = async (onstart: string): Promise<number> => {
      const c = await api('PUT', '/api/v0/asks/1001/', { image: 'none', onstart, runtype: 'ssh' });
      const id = c.new_contract as number;
      if (typeof id !== 'number') throw new Error(`create: ${JSON.stringify(c)}`);
      ids.push(id);
      return id;
    };
    const untilRunning = async (id: number): Promise<void> => {
      for (;;) {
        const r = (await api('GET', `/api/v0/instances/${id}/`)).instances as Record<string, unknown>;
        if (r.actual_status === 'running') return;
        await new Promise((res) => setTimeout(res, 2));
      }
    };
    const createMs: number[] = [];
    for (let i = 0; i < RUNS; i++) {
      const t = process.hrtime.bigint();
      await untilRunning(await create('sleep 30'));
      createMs.push(Number(process.hrtime.bigint() - t) / 1e6);
      await api('DELETE', `/api/v0/instances/${ids.at(-1) as number}/`);
    }
    const cpuMs: number[] = [];
    for (let i = 0; i < CPU_RUNS; i++) {
      const id = await create(CPU);
      const file = join(dataDir, 'instances', String(id), 'disk', 'cpu-us');
      for (;;) {
        const us = Number((await readFile(file, 'utf8').catch(() => '')).trim());
        if (us > 0) {
          cpuMs.push(us / 1000);
          break;
        }
        await new Promise((res) => setTimeout(res, 20));
      }
      await api('DELETE', `/api/v0/instances/${id}/`);
    }
    return { create: createMs, cpu: cpuMs };
  } finally {
    await g.close(); // its workloads go with it (dataDirGoes)
  }
}

export async function sandboxBench(dir: string): Promise<LatencyRow[]> {
  const probe = await probeBwrap({ identity: process.getuid?.() === 0 ? { uid: 1_000_000_000, gid: 1_000_000_000 } : null, timeoutMs: 10_000 });
  if (!probe.ok) {
    process.stdout.write(`sandbox bench skipped: ${probe.reason}\n`);
    return [];
  }
  const bare = await measure(dir, 'off');
  const boxed = await measure(dir, 'bwrap');
  return [
    ...pair('process sandbox: create → running', ['bare process group (baseline)', bare.create], ['bwrap sandbox, own uid', boxed.create]),
    ...pair('process sandbox: CPU-bound workload', ['bare process group (baseline)', bare.cpu], ['bwrap sandbox, own uid', boxed.cpu]),
  ];
}
