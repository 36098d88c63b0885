import { readFileSync } from 'node:fs';

/** A small text file's trimmed content (a key, a URL), or null when it is missing, unreadable or empty. */
export function readText(file: string): string | null {
  try {
    const t = readFileSync(file, 'utf8').trim();
    return t === '' ? null : t;
  } catch {
    return null;
  }
}
