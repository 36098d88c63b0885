import { GantryError } from '../errors.js';

/**
 * A path on one side of a copy between instances (`copy C.1:/data/ C.2:/inbox`), relative to the instance's copy
 * root (its disk on the process runtime, `/` in a container) as the rsync module of a local copy is. rsync's
 * rule for the source: `dir/` (or `/`) copies what the folder holds, `dir` the folder itself. The destination is
 * always a folder (made if missing). `..` is refused, so no path names anything outside the instance's root.
 */
export interface CopyPath {
  /** Folders from the root, without `.` or empty segments; empty: the root itself. */
  readonly segments: readonly string[];
  /** The source's contents (trailing `/`, or the root) rather than the folder or file itself. */
  readonly contents: boolean;
}

/** Longest path accepted (Linux's PATH_MAX). */
const MAX_PATH = 4096;

export function parseCopyPath(raw: unknown, field: string): CopyPath {
  if (typeof raw !== 'string' || raw === '') throw new GantryError('MISSING_INPUT', `'${field}' must be a path such as /workspace/.`, { field });
  if (raw.length > MAX_PATH || raw.includes('\0'))
    throw new GantryError('INVALID_ARGUMENT', `'${field}' must be a path of at most ${MAX_PATH} characters without NUL.`, { field });
  const parts = raw.split('/');
  if (parts.includes('..'))
    throw new GantryError('INVALID_ARGUMENT', `'${field}' may not contain '..': a copy stays inside each instance's own disk.`, {
      field,
      path: raw.slice(0, 200),
    });
  const segments = parts.filter((s) => s !== '' && s !== '.');
  return { segments, contents: segments.length === 0 || raw.endsWith('/') || raw.endsWith('/.') };
}

/** The folder a source path is read from and what of it is archived (`.`: all it holds). */
export function sourceParts(p: CopyPath): { dir: string; name: string } {
  if (p.contents) return { dir: p.segments.join('/'), name: '.' };
  return { dir: p.segments.slice(0, -1).join('/'), name: p.segments.at(-1) as string };
}

/** How a path is shown back (`/data/`). */
export function showCopyPath(p: CopyPath): string {
  return '/' + p.segments.join('/') + (p.contents && p.segments.length > 0 ? '/' : '');
}

/** A path as it arrives from elsewhere (the agent protocol): the same rules again, or null. */
export function asCopyPath(v: unknown): CopyPath | null {
  if (typeof v !== 'object' || v === null) return null;
  const { segments, contents } = v as Partial<CopyPath>;
  if (!Array.isArray(segments) || typeof contents !== 'boolean') return null;
  const ok = segments.every((s) => typeof s === 'string' && s !== '' && s !== '.' && s !== '..' && !s.includes('/') && !s.includes('\0'));
  return ok && segments.join('/').length <= MAX_PATH ? { segments: segments as string[], contents: contents || segments.length === 0 } : null;
}

/**
 * How the agent says a copy ended by `cancel copy` (its error message), so that whichever replica records
 * the copy's end writes "cancelled". On another host, the destination's agent says it on the copy's error
 * output (`gantry: ` and this, a line of its own) once the unpacking it ended has exited, and the source's
 * agent passes it on.
 */
export const COPY_CANCELLED = 'the copy was cancelled';
