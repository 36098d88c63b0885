import type { FastifyRequest } from 'fastify';
import { apiKeyOf } from '../../edge/api-key.js';

/**
 * The key of a Vast call: `Authorization: Bearer K`, `?api_key=K`, or else `api_key` in the JSON body.
 * The serverless client's get_workers() sends its key only in the body, as Vast's autoscaler takes it.
 * A key in the headers or query is checked before the body is read; one only in the body, once the body
 * is parsed (`credentialInBody`). The rate limit, earlier still, counts such a call by address.
 */
export function vastCredential(req: FastifyRequest): string | null {
  const key = apiKeyOf(req);
  if (key !== null) return key;
  const body = req.body;
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return null;
  const inBody = (body as Record<string, unknown>).api_key;
  return typeof inBody === 'string' && inBody !== '' ? inBody : null;
}
