import { GantryError } from '../../../domain/errors.js';

/**
 * Vast's paged listings (`after_token` in, `next_token` out): a token is the offset of the next page, opaque to
 * the client. A token Gantry never gave is refused rather than read as page one.
 */
export function parseToken(raw: unknown): number {
  if (raw === undefined || raw === null || raw === '') return 0;
  try {
    const t = JSON.parse(Buffer.from(typeof raw === 'string' ? raw : '', 'base64url').toString('utf8')) as { offset?: unknown };
    if (typeof t.offset === 'number' && Number.isSafeInteger(t.offset) && t.offset >= 0) return t.offset;
  } catch {
    // fall through to the 400 below
  }
  throw new GantryError('INVALID_QUERY', 'after_token is not a token from a previous page.', { field: 'after_token' });
}

/** The page of `rows` that `token` starts, `limit` long, and the next page's token (null: the last page). */
export function onePage<T>(rows: readonly T[], token: unknown, limit: number): { readonly page: T[]; readonly next: string | null } {
  const offset = parseToken(token);
  const next = offset + limit < rows.length ? Buffer.from(JSON.stringify({ offset: offset + limit })).toString('base64url') : null;
  return { page: rows.slice(offset, offset + limit), next };
}
