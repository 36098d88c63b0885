import type { ErrorRequest } from '../../edge/dialect.js';
import type { GantryError } from '../../../domain/errors.js';

/** The console API's error body: Gantry's own code and message, shown to the user as they are. */
export function consoleErrorBody(error: GantryError, status: number, req: ErrorRequest): unknown {
  return { error: { code: error.code, message: error.message, status, details: error.details, request_id: req.id } };
}
