import type { FastifyRequest } from 'fastify';
import { RESOURCE_GROUP_ID } from '../../../domain/account/resource-groups.js';
import { GantryError } from '../../../domain/errors.js';
import { showValue } from '../../../domain/show.js';

/**
 * The `AI-Resource-Group` header every `/v2/lm/*` call carries (the SDK sends `default`). Missing or
 * malformed: 400. Whether the group exists for the caller is the use case's question.
 */
export function resourceGroupOf(req: FastifyRequest): string {
  const h = req.headers['ai-resource-group'];
  const v = Array.isArray(h) ? h[0] : h;
  if (v === undefined || v.trim() === '') {
    throw new GantryError('MISSING_INPUT', 'Send the AI-Resource-Group header (the SDK sends "default").', { field: 'AI-Resource-Group' });
  }
  if (!RESOURCE_GROUP_ID.test(v.trim())) {
    throw new GantryError('INVALID_ARGUMENT', `AI-Resource-Group ${showValue(v)} is not a resource group id (3-253 letters, digits, '.' or '-').`, {
      field: 'AI-Resource-Group',
    });
  }
  return v.trim();
}
