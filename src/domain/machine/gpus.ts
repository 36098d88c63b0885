import { GantryError } from '../errors.js';

export interface GpuInventory {
  readonly name: string;
  readonly count: number;
  readonly memoryMb: number;
  readonly driverVersion: string | null;
  readonly cudaVersion: number | null;
  /** Compute capability ×100 as Vast reports it (9.0 → 900); null when the driver does not say. */
  readonly computeCap: number | null;
  readonly declared: boolean;
}

/**
 * A model name, not a count in words: "two 4090s" or "2 4090" is a user's phrasing that would
 * otherwise become one GPU of that name. A name starts with a letter or is a bare model number.
 */
function modelName(name: string): boolean {
  if (name === '' || /^(?:a|an|one|two|three|four|five|six|seven|eight|nine|ten|\d+)\s/i.test(name)) return false;
  return !/\d+s$/i.test(name); // "4090s": a plural, not a model
}

/** Parse a declaration such as "2x RTX 4090:24GB" (count optional, memory in GB or MB). */
export function parseGpuDeclaration(text: string): GpuInventory {
  const m = /^\s*(?:(\d+)\s*x\s*)?([^:]+?)\s*(?::\s*(\d+(?:\.\d+)?)\s*(GB|MB|G|M)?)?\s*$/i.exec(text);
  const count = m ? Number(m[1] ?? 1) : NaN;
  if (!m || !Number.isInteger(count) || count < 1 || count > 64 || !modelName((m[2] ?? '').trim())) {
    throw new GantryError('INVALID_ARGUMENT', `--gpus '${text}' is not like "2x RTX 4090:24GB": [COUNTx ]MODEL[:MEMORY], count 1 to 64, memory in GB or MB.`);
  }
  const amount = m[3] === undefined ? 0 : Number(m[3]);
  const unit = (m[4] ?? 'GB').toUpperCase();
  const memoryMb = Math.round(unit.startsWith('M') ? amount : amount * 1000);
  return { name: (m[2] as string).trim(), count, memoryMb, driverVersion: null, cudaVersion: null, computeCap: null, declared: true };
}

/**
 * Parse `nvidia-smi --query-gpu=name,memory.total,driver_version[,compute_cap] --format=csv,noheader,nounits`
 * plus the CUDA version from the plain `nvidia-smi` banner. Mixed models: the most common one names the machine.
 */
export function parseNvidiaSmi(csv: string, banner: string): GpuInventory | null {
  const rows = csv
    .split('\n')
    .map((l) => l.split(',').map((s) => s.trim()))
    .filter((r) => r.length >= 3 && r[0] !== '');
  if (rows.length === 0) return null;
  const name = (rows[0]?.[0] ?? 'GPU').replace(/^NVIDIA\s+/, '');
  const memoryMb = Math.round(Number(rows[0]?.[1] ?? 0) * 1.048576); // MiB → MB as Vast reports
  const cuda = /CUDA Version:\s*([\d.]+)/.exec(banner);
  const cap = Number(rows[0]?.[3]);
  return {
    name,
    count: rows.length,
    memoryMb,
    driverVersion: rows[0]?.[2] ?? null,
    cudaVersion: cuda ? Number(cuda[1]) : null,
    computeCap: rows[0]?.[3] !== undefined && Number.isFinite(cap) && cap > 0 ? Math.round(cap * 100) : null,
    declared: false,
  };
}

/** Parse `nvidia-smi --query-gpu=index,utilization.gpu --format=csv,noheader,nounits` into percents by index. */
export function parseGpuUtilization(csv: string): number[] {
  const out: number[] = [];
  for (const line of csv.split('\n')) {
    const [idx, util] = line.split(',').map((s) => s.trim());
    const i = Number(idx);
    const u = Number(util);
    if (idx === undefined || idx === '' || !Number.isInteger(i) || i < 0 || i > 63) continue;
    out[i] = Number.isFinite(u) ? u : 0; // "[N/A]" on some boards
  }
  return Array.from(out, (x) => x ?? 0);
}
