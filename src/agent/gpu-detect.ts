import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { within } from './bounds.js';
import { parseGpuDeclaration, parseGpuUtilization, parseNvidiaSmi, type GpuInventory } from '../domain/machine/gpus.js';

const run = promisify(execFile);

/** nvidia-smi, killed after `timeoutMs` with SIGKILL: one stuck in the driver may not heed a TERM. */
const smi = (args: readonly string[], timeoutMs: number): Promise<{ stdout: string }> =>
  run('nvidia-smi', [...args], { timeout: timeoutMs, killSignal: 'SIGKILL' });

type SmiError = { readonly killed?: boolean; readonly stderr?: string; readonly message?: string; readonly code?: unknown };

/** Why an nvidia-smi call failed, in a line: its own words (stderr), or that it did not answer in time. */
function reason(err: SmiError, timeoutMs: number): string {
  if (err.killed === true) return `no answer within ${timeoutMs} ms`;
  const said = (err.stderr ?? '').trim().split('\n')[0] ?? '';
  return said !== '' ? said : ((err.message ?? 'failed').split('\n')[0] ?? '');
}

/**
 * GPUs from a declaration (development) or from nvidia-smi; null on a machine without NVIDIA GPUs. An
 * nvidia-smi that is there but fails, or does not answer within `timeoutMs` a call (the whole detection is
 * bounded too, even if a call cannot be killed: the host's start would wait on it for good, saying nothing),
 * is told to `warn`: the host then joins without GPUs.
 */
export async function detectGpus(declaration: string | null, timeoutMs = 10_000, warn: (msg: string) => void = () => undefined): Promise<GpuInventory | null> {
  if (declaration !== null) return parseGpuDeclaration(declaration);
  const query = (fields: string): Promise<{ stdout: string }> => smi([`--query-gpu=${fields}`, '--format=csv,noheader,nounits'], timeoutMs);
  const calls = Promise.all([
    // compute_cap is a newer field; older drivers refuse the whole query, so ask again without it (not after
    // a call that had to be killed: a second one would hang beside it).
    query('name,memory.total,driver_version,compute_cap').catch((err: SmiError) => {
      if (err.killed === true) throw err;
      return query('name,memory.total,driver_version');
    }),
    smi([], timeoutMs),
  ]);
  try {
    // Two calls one after the other at most (the query, then the one older drivers take), each killed past timeoutMs.
    const answered = await within(calls, 2 * timeoutMs + 1_000, null);
    if (answered !== null) return parseNvidiaSmi(answered[0].stdout, answered[1].stdout);
    warn(`nvidia-smi failed (${reason({ killed: true }, timeoutMs)}): this host joins without GPUs`);
  } catch (err) {
    // No nvidia-smi at all: a CPU-only host, nothing to say.
    if ((err as SmiError).code !== 'ENOENT') warn(`nvidia-smi failed (${reason(err as SmiError, timeoutMs)}): this host joins without GPUs`);
  }
  return null;
}

/**
 * Utilisation of each GPU by index, for heartbeats; null where it cannot be measured (declared GPUs). A read
 * settles when its nvidia-smi has exited (killed past `timeoutMs`), so the agent, which runs one at a time,
 * never starts another beside one stuck in the driver.
 */
export function gpuUtilReader(gpus: GpuInventory | null, timeoutMs = 10_000): () => Promise<number[] | null> {
  if (gpus === null || gpus.declared) return () => Promise.resolve(null);
  return async () => {
    const r = await smi(['--query-gpu=index,utilization.gpu', '--format=csv,noheader,nounits'], timeoutMs);
    return parseGpuUtilization(r.stdout);
  };
}
