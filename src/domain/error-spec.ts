/** What the error table (error-codes.ts) says of each code. */
export type ErrorKind =
  | 'invalid'
  | 'unauthenticated'
  | 'forbidden'
  | 'not_found'
  | 'method_not_allowed'
  | 'conflict'
  | 'illegal_transition'
  | 'rate_limited'
  | 'payment_required'
  | 'unavailable'
  | 'upstream'
  | 'timeout'
  | 'internal';

export interface CodeSpec {
  readonly kind: ErrorKind;
  readonly retryable: boolean;
  /**
   * The level an answer with this code is logged at, where its kind's level says the wrong thing: a 503 that tells
   * the caller its endpoint's state is the caller's news, not a fault here. Otherwise: internal at error, other
   * 5xx at warn, the rest at info.
   */
  readonly log?: 'debug' | 'info';
  /** One line for docs/errors.md. */
  readonly doc: string;
}
