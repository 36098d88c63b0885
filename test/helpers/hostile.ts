/**
 * JSON an attacker sends to break a parser or the code behind it: nesting thousands deep (a 10 KB
 * body), numbers no double holds, and keys that name prototypes. As text: building these values in
 * the test and stringifying them would overflow the test's own stack.
 */
export const deepArray = (n: number): string => '['.repeat(n) + ']'.repeat(n);
export const deepObject = (n: number): string => '{"a":'.repeat(n) + '1' + '}'.repeat(n);

/** Values (JSON text) to put in any field. */
export const HOSTILE_VALUES: readonly string[] = [
  deepArray(5000),
  deepObject(5000),
  `[${deepArray(5000)}, 1]`,
  '1e400',
  '-1e400',
  String(2n ** 64n),
  '-0',
  '9'.repeat(400),
  `0.${'0'.repeat(400)}1`,
  '{"__proto__":{"polluted":true}}',
  '{"constructor":{"prototype":{"polluted":true}}}',
  '["__proto__"]',
  '"__proto__"',
  '"constructor"',
  '{"toString":1,"valueOf":{}}',
];

/** Whole bodies (JSON text). */
export const HOSTILE_BODIES: readonly string[] = [
  deepArray(5000),
  deepObject(5000),
  '{"__proto__":{"polluted":true}}',
  '{"constructor":{"prototype":{"polluted":true}}}',
  '{"prototype":{},"__proto__":[]}',
  '1e400',
];

/** Query parameter values, raw (brackets need no escaping in a query: 5,000 deep stays under the header size limit). */
export const HOSTILE_QUERY_VALUES: readonly string[] = [
  deepArray(5000),
  `{"num_gpus":${deepArray(4000)}}`,
  `{"gpu_name":{"eq":${deepArray(4000)}}}`,
  `{"actual_status":{"in":${deepArray(4000)}}}`,
  '["__proto__"]',
  '["__proto__","constructor","prototype"]',
  '{"__proto__":{"eq":1}}',
  '{"constructor":{"eq":1}}',
  '1e400',
  String(2n ** 64n),
];

/** Whether nothing polluted Object.prototype in this process (the app runs in the test's process). */
export function prototypeClean(): boolean {
  return !('polluted' in Object.prototype) && !('polluted' in ({} as Record<string, unknown>));
}
