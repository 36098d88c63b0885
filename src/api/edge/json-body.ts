import type { FastifyRequest } from 'fastify';
import { GantryError } from '../../domain/errors.js';

/**
 * Nesting depth of request JSON, bounded before any route reads it: code that walks a value
 * recursively (JSON.stringify in an error message, a filter compiler) would overflow the stack on a
 * small body nested thousands deep, and answer 500 instead of 400.
 */

/** Whether a parsed value nests arrays and objects deeper than `max` (iterative: safe for any depth). */
export function nestedDeeperThan(value: unknown, max: number): boolean {
  const stack: [unknown, number][] = [[value, 0]];
  while (stack.length > 0) {
    const [v, depth] = stack.pop() as [unknown, number];
    if (v === null || typeof v !== 'object') continue;
    if (depth + 1 > max) return true;
    for (const child of Array.isArray(v) ? v : Object.values(v)) if (child !== null && typeof child === 'object') stack.push([child, depth + 1]);
  }
  return false;
}

/** Whether JSON text opens more than `max` arrays or objects at once (brackets inside strings do not count). */
export function textNestedDeeperThan(text: string, max: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++;
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x5b || c === 0x7b) {
      if (++depth > max) return true;
    } else if (c === 0x5d || c === 0x7d) depth--;
  }
  return false;
}

/** Only what a JSON parser made is walked: the proxy's bodies are streams, passed through unread. */
function isParsedJson(v: unknown): boolean {
  if (v === null || typeof v !== 'object') return false;
  const proto = Object.getPrototypeOf(v) as unknown;
  return Array.isArray(v) || proto === Object.prototype || proto === null;
}

/** A preValidation hook: a body or query parameter nested deeper than `maxDepth` is a 400 in the dialect's shape. */
export function boundJsonDepth(maxDepth: number): (req: FastifyRequest) => Promise<void> {
  return async (req) => {
    if (isParsedJson(req.body) && nestedDeeperThan(req.body, maxDepth)) {
      throw new GantryError('INVALID_JSON', `The request body nests arrays and objects more than ${maxDepth} levels deep.`, { maxDepth });
    }
    const q = req.query;
    if (q === null || typeof q !== 'object') return;
    for (const [name, v] of Object.entries(q as Record<string, unknown>)) {
      for (const s of Array.isArray(v) ? v : [v]) {
        if (typeof s === 'string' && textNestedDeeperThan(s, maxDepth)) {
          throw new GantryError('INVALID_ARGUMENT', `Query parameter '${name.slice(0, 64)}' nests arrays and objects more than ${maxDepth} levels deep.`, {
            field: name.slice(0, 64),
            maxDepth,
          });
        }
      }
    }
  };
}
