import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { parseGpuDeclaration, parseNvidiaSmi, type GpuInventory } from '../domain/machine/gpus.js';

const run = promisify(execFile);

/** GPUs from a declaration (development) or from nvidia-smi; null on a machine without NVIDIA GPUs. */
export async function detectGpus(declaration: string | null, timeoutMs = 10_000): Promise<GpuInventory | null> {
  if (declaration !== null) return parseGpuDeclaration(declaration);
  try {
    const [csv, banner] = await Promise.all([
      run('nvidia-smi', ['--query-gpu=name,memory.total,driver_version', '--format=csv,noheader,nounits'], { timeout: timeoutMs }),
      run('nvidia-smi', [], { timeout: timeoutMs }),
    ]);
    return parseNvidiaSmi(csv.stdout, banner.stdout);
  } catch {
    return null; // no nvidia-smi, or no driver loaded: a CPU-only host
  }
}
