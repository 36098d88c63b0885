import type { FastifyRequest } from 'fastify';

/** The key from `Authorization: Bearer K` or `?api_key=K` (as the official clients and SDKs send it). */
export function apiKeyOf(req: FastifyRequest): string | null {
  const h = req.headers.authorization;
  if (typeof h === 'string') {
    const m = /^Bearer\s+(.+)$/i.exec(h.trim());
    if (m) return (m[1] as string).trim();
  }
  const q = (req.query as Record<string, unknown> | undefined)?.api_key;
  return typeof q === 'string' && q !== '' ? q : null;
}
