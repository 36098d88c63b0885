import { readFile, readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';

/** File helpers the runtimes share: exit codes kept in files, and a bounded disk-usage walk. */
export async function readCode(file: string): Promise<number | null> {
  const text = (await readFile(file, 'utf8').catch(() => '')).trim();
  return /^-?\d+$/.test(text) ? Number(text) : null;
}

/** Bounded walk: a disk with very many files reports the size seen in the first 20,000 entries. */
export async function dirSizeMb(dir: string): Promise<number> {
  let total = 0;
  let budget = 20_000;
  const stack = [dir];
  while (stack.length > 0 && budget > 0) {
    const d = stack.pop() as string;
    const entries = await readdir(d, { withFileTypes: true }).catch(() => []);
    for (const e of entries) {
      if (--budget <= 0) break;
      const p = join(d, e.name);
      if (e.isDirectory()) stack.push(p);
      else if (e.isFile())
        total += await stat(p).then(
          (s) => s.size,
          () => 0,
        );
    }
  }
  return Math.round((total / 1e6) * 10) / 10;
}

/** Disk usage per instance: a directory walk, reused for `ttlMs` because instance lists are polled often. */
export class DiskUsageCache {
  readonly #ttlMs: number;
  readonly #cache = new Map<number, { at: number; mb: number }>();

  constructor(ttlMs: number) {
    this.#ttlMs = ttlMs;
  }

  async mb(id: number, dir: string, now: number): Promise<number> {
    const cached = this.#cache.get(id);
    if (cached !== undefined && now - cached.at < this.#ttlMs) return cached.mb;
    const mb = await dirSizeMb(dir);
    this.#cache.set(id, { at: now, mb });
    return mb;
  }

  forget(id: number): void {
    this.#cache.delete(id);
  }
}

/** Percent of one core between two samples of a cumulative CPU counter (in ms of CPU time). */
export function cpuPercent(prev: { cpuMs: number; at: number } | undefined, cur: { cpuMs: number; at: number }): number {
  if (prev === undefined || cur.at <= prev.at) return 0;
  return Math.round(Math.max(0, ((cur.cpuMs - prev.cpuMs) / (cur.at - prev.at)) * 100) * 10) / 10;
}
