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

/** A UTF-16 surrogate without its pair: `\ud800` in JSON parses to one, and no database stores it as it came. */
const LONE_SURROGATE = /\p{Cs}/u;

/**
 * The first key or string of a parsed value that is not well-formed text (a lone surrogate), or null.
 * Stored as it came, SQLite would give back three replacement characters and PostgreSQL one: refused instead.
 */
export function illFormedText(value: unknown): string | null {
  const stack: unknown[] = [value];
  while (stack.length > 0) {
    const v = stack.pop();
    if (typeof v === 'string') {
      if (LONE_SURROGATE.test(v)) return v;
    } else if (Array.isArray(v)) for (const child of v as unknown[]) stack.push(child);
    else if (v !== null && typeof v === 'object')
      for (const [k, child] of Object.entries(v)) {
        if (LONE_SURROGATE.test(k)) return k;
        stack.push(child);
      }
  }
  return null;
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

/** A preValidation hook: a body or query parameter nested deeper than `maxDepth`, or a body with a string that is not text, is a 400 in the dialect's shape. */
export function boundJsonDepth(maxDepth: number): (req: FastifyRequest) => Promise<void> {
  return async (req) => {
    if (isParsedJson(req.body) && nestedDeeperThan(req.body, maxDepth)) {
      throw new GantryError('INVALID_JSON', `The request body nests arrays and objects more than ${maxDepth} levels deep.`, { maxDepth });
    }
    if (isParsedJson(req.body) && illFormedText(req.body) !== null) {
      throw new GantryError(
        'INVALID_JSON',
        'The request body holds a string with a lone UTF-16 surrogate (such as \\ud800 without its pair), which is not text.',
      );
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
