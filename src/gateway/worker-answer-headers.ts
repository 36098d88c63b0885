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

/**
 * A worker's answer headers never passed on: those that act on the whole origin, not on the answer, which the
 * browser takes before and outside the sandboxed document: a service worker's wider scope; clearing the origin's
 * storage (the console's key); cookies of the origin (Gantry sets none; 16 KiB of them make every later request
 * of the browser, the console's too, too large for the server); network error logging and its reports' collector
 * (every later URL of the origin sent to the worker's collector: `?api_key=`, results tokens); HSTS, other
 * services and client hints of the origin. And its own X-Content-Type-Options, which a browser would read before
 * the nosniff added after it (only the first value counts).
 */
export const DROPPED_ANSWER_HEADERS: ReadonlySet<string> = new Set([
  'service-worker-allowed',
  'clear-site-data',
  'set-cookie',
  'nel',
  'report-to',
  'reporting-endpoints',
  'strict-transport-security',
  'alt-svc',
  'accept-ch',
  'critical-ch',
  'x-content-type-options',
]);

/** The worker's answer headers (names in lower case) as the caller gets them: DROPPED_ANSWER_HEADERS gone, WORKER_ANSWER_HEADERS added. */
export function callerAnswerHeaders(from: Record<string, string | string[]>): Record<string, string | string[]> {
  for (const k of DROPPED_ANSWER_HEADERS) delete from[k];
  for (const [k, v] of Object.entries(WORKER_ANSWER_HEADERS)) {
    const own = from[k];
    from[k] = own === undefined ? v : [own, v].flat();
  }
  return from;
}

/** The same as header lines (`\r\nname: value` each) for the wire path, which passes the worker's other lines on as they came. */
export const WORKER_ANSWER_LINES = Object.entries(WORKER_ANSWER_HEADERS)
  .map(([k, v]) => `\r\n${k}: ${v}`)
  .join('');
