import type { GantryError } from '../domain/errors.js';

/**
 * How often an intent write is tried while other writers keep moving the generation first. Every
 * attempt reads the record again and decides again, so a retry never writes a decision made on a
 * state that is gone; past the limit the caller is told to try again.
 */
export const MAX_CAS_ATTEMPTS = 10;

/** What an attempt returns when its write found the generation moved by another writer. */
export const GENERATION_MOVED: unique symbol = Symbol('generation moved');

/**
 * Compare-and-set on a generation, shared by instances and endpoints: `attempt` reads, decides and
 * writes only if the generation it read is still current, returning its result or GENERATION_MOVED.
 * Retried up to MAX_CAS_ATTEMPTS times; then `conflict()` (ILLEGAL_TRANSITION naming the resource) is thrown.
 */
export async function compareAndSet<T>(attempt: () => Promise<T | typeof GENERATION_MOVED>, conflict: () => GantryError): Promise<T> {
  for (let i = 0; i < MAX_CAS_ATTEMPTS; i++) {
    const r = await attempt();
    if (r !== GENERATION_MOVED) return r;
  }
  throw conflict();
}
