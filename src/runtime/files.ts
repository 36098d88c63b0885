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
