/**
 * A worker is a tenant's program, and the proxy serves its answers on the API's origin, which is the
 * console's origin too. An answer the browser took for a page of that origin would run its script
 * there: read a console tab's key from session storage, or register a service worker over the whole
 * origin (the worker names its own `Service-Worker-Allowed`) that reads the key of every later call.
 * So each answer is given a document of its own, an opaque origin with no script (`sandbox`, added
 * beside any policy the worker sends: both apply), and is never read as another type than it says.
 */
export const WORKER_ANSWER_HEADERS: Readonly<Record<string, string>> = {
  'content-security-policy': "sandbox; default-src 'none'",
  'x-content-type-options': 'nosniff',
};

/** Answer headers that act on the whole origin, never passed on: a service worker's wider scope, clearing the origin's storage (the console's key). */
export const ORIGIN_WIDE_HEADERS: ReadonlySet<string> = new Set(['service-worker-allowed', 'clear-site-data']);

/** The worker's answer headers (names in lower case) as the caller gets them: ORIGIN_WIDE_HEADERS dropped, WORKER_ANSWER_HEADERS added. */
export function callerAnswerHeaders(from: Record<string, string | string[]>): Record<string, string | string[]> {
  for (const k of ORIGIN_WIDE_HEADERS) delete from[k];
  for (const [k, v] of Object.entries(WORKER_ANSWER_HEADERS)) {
    const own = from[k];
    from[k] = k === 'content-security-policy' && own !== undefined ? [own, v].flat() : v;
  }
  return from;
}

/** The same as header lines (`\r\nname: value` each) for the wire path, which passes the worker's own lines on as they came. */
export const WORKER_ANSWER_LINES = Object.entries(WORKER_ANSWER_HEADERS)
  .map(([k, v]) => `\r\n${k}: ${v}`)
  .join('');
