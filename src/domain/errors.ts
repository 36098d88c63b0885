/**
 * The one error type of Gantry. The domain knows no HTTP: each error carries a
 * stable `code` and a `kind`; `src/api/errors.ts` maps kinds to statuses and each
 * dialect renders its own body shape.
 */
import { ERROR_CODES, type ErrorKind } from './error-codes.js';

export { ERROR_CODES, type ErrorKind } from './error-codes.js';

export type ErrorCode = keyof typeof ERROR_CODES;

export class GantryError extends Error {
  readonly code: ErrorCode;
  readonly kind: ErrorKind;
  readonly retryable: boolean;
  readonly details: Readonly<Record<string, unknown>>;

  constructor(code: ErrorCode, message: string, details: Record<string, unknown> = {}, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'GantryError';
    this.code = code;
    this.kind = ERROR_CODES[code].kind;
    this.retryable = ERROR_CODES[code].retryable;
    this.details = details;
  }
}

/** Whether a code read from elsewhere (another replica's answer) is one of ours. */
export function isErrorCode(s: string): s is ErrorCode {
  return Object.hasOwn(ERROR_CODES, s);
}

export function isGantryError(e: unknown): e is GantryError {
  return e instanceof GantryError;
}

export function assertNever(x: never, what = 'value'): never {
  throw new Error(`unexpected ${what}: ${String(x)}`);
}
