import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { parseGpuDeclaration, parseGpuUtilization, parseNvidiaSmi, type GpuInventory } from '../domain/machine/gpus.js';

const run = promisify(execFile);

/** GPUs from a declaration (development) or from nvidia-smi; null on a machine without NVIDIA GPUs. */
export async function detectGpus(declaration: string | null, timeoutMs = 10_000): Promise<GpuInventory | null> {
  if (declaration !== null) return parseGpuDeclaration(declaration);
  try {
    const query = (fields: string): Promise<{ stdout: string }> =>
      run('nvidia-smi', [`--query-gpu=${fields}`, '--format=csv,noheader,nounits'], { timeout: timeoutMs });
    const [csv, banner] = await Promise.all([
      // compute_cap is a newer field; older drivers refuse the whole query, so ask again without it.
      query('name,memory.total,driver_version,compute_cap').catch(() => query('name,memory.total,driver_version')),
      run('nvidia-smi', [], { timeout: timeoutMs }),
    ]);
    return parseNvidiaSmi(csv.stdout, banner.stdout);
  } catch {
    return null; // no nvidia-smi, or no driver loaded: a CPU-only host
  }
}

/** Utilisation of each GPU by index, for heartbeats; null where it cannot be measured (declared GPUs). */
export function gpuUtilReader(gpus: GpuInventory | null, timeoutMs = 5_000): () => Promise<number[] | null> {
  if (gpus === null || gpus.declared) return () => Promise.resolve(null);
  return async () => {
    const r = await run('nvidia-smi', ['--query-gpu=index,utilization.gpu', '--format=csv,noheader,nounits'], { timeout: timeoutMs });
    return parseGpuUtilization(r.stdout);
  };
}
