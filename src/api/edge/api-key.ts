import type { FastifyRequest } from 'fastify';

/** The key of an `Authorization: Bearer K` header, or null. */
export function bearerOf(h: string | undefined): string | null {
  if (typeof h !== 'string') return null;
  const m = /^Bearer\s+(.+)$/i.exec(h.trim());
  return m ? (m[1] as string).trim() : null;
}

/** The key from `Authorization: Bearer K` or `?api_key=K` (as the official clients and SDKs send it). */
export function apiKeyOf(req: FastifyRequest): string | null {
  const key = bearerOf(req.headers.authorization);
  if (key !== null) return key;
  const q = (req.query as Record<string, unknown> | undefined)?.api_key;
  return typeof q === 'string' && q !== '' ? q : null;
}
