/**
 * The SDK's errors, shared by `GantryClient` and `Deployment`: a server's refusal (`GantryApiError`,
 * with the HTTP status and the body's error and code), a server that did not answer at all
 * (`GantryConnectionError`, naming the URL), a request it did not answer within the client's
 * `timeoutMs` (`GantryTimeoutError`), a wait for an instance that ran out of its own time
 * (`WaitTimeoutError`), and a remote call that found no worker in time (`CallTimeoutError`).
 */
export class GantryApiError extends Error {
  readonly status: number;
  readonly error: string;
  readonly code: string | null;
  /**
   * `context` goes before the server's message (`PUT /api/v0/deployments/`, `square()`): a
   * deployment's errors say which of its requests was refused. `message` replaces the server's
   * where the SDK knows better what to do (a stopped deployment: start it).
   */
  constructor(status: number, body: Record<string, unknown> | null, fallback: string, o: { context?: string; message?: string } = {}) {
    // Vast-style bodies carry `msg`; AI Core's carry `{error: {code, message}}`; Elasticsearch's `{error: {type, reason}}`.
    const nested = typeof body?.error === 'object' && body.error !== null ? (body.error as Record<string, unknown>) : null;
    const text = typeof body?.msg === 'string' ? body.msg : typeof nested?.message === 'string' ? nested.message : nested?.reason;
    const message = o.message ?? (typeof text === 'string' ? text : fallback);
    super(o.context === undefined ? message : `${o.context}: ${message}`);
    this.name = 'GantryApiError';
    this.status = status;
    this.error = typeof body?.error === 'string' ? body.error : 'http_error';
    this.code = typeof body?.code === 'string' ? body.code : typeof nested?.code === 'string' ? nested.code : null;
  }
}

/** The parsed JSON of a response body, or null for an empty or non-JSON one (a proxy's HTML page). */
export function jsonBody(text: string): Record<string, unknown> | null {
  try {
    const v: unknown = text === '' ? null : JSON.parse(text);
    return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}

/**
 * No answer at all from `url` (refused, unknown host, reset, TLS): fetch's own error, with `cause`
 * kept, says which URL. A TypeError, as fetch's is: callers that caught those still do.
 */
export class GantryConnectionError extends TypeError {
  /** The URL that did not answer, without its query (an upload URL's query holds a token). */
  readonly url: string;
  /** Why, in a word where the system gave one (ECONNREFUSED, ENOTFOUND). */
  readonly reason: string;
  constructor(url: string, cause: unknown) {
    const why = noAnswerReason(cause);
    const shown = withoutQuery(url);
    super(`no answer from ${shown} (${why}): is the Gantry server running there?`, { cause });
    this.name = 'GantryConnectionError';
    this.url = shown;
    this.reason = why;
  }
}

/** Why fetch got no answer: it says only "fetch failed", and the system's code (ECONNREFUSED) is on its cause. */
export function noAnswerReason(fetchError: unknown): string {
  if (fetchError instanceof GantryConnectionError) return fetchError.reason;
  const inner = (fetchError as { cause?: { code?: unknown; message?: unknown } } | null)?.cause;
  if (typeof inner?.code === 'string') return inner.code;
  if (typeof inner?.message === 'string') return inner.message;
  return fetchError instanceof Error ? fetchError.message : String(fetchError);
}

/**
 * A request with no (whole) answer within the client's `timeoutMs`: given up by the client, not refused by
 * the server (which may still carry it out). Not a `GantryConnectionError`: the server was reached.
 */
export class GantryTimeoutError extends Error {
  /** The URL that did not answer in time, without its query. */
  readonly url: string;
  readonly method: string;
  readonly timeoutMs: number;
  constructor(method: string, url: string, timeoutMs: number, cause?: unknown) {
    const shown = withoutQuery(url);
    super(`${method} ${shown}: no answer within timeoutMs (${timeoutMs} ms); the request was given up (the server may still carry it out)`, { cause });
    this.name = 'GantryTimeoutError';
    this.url = shown;
    this.method = method;
    this.timeoutMs = timeoutMs;
  }
}

/**
 * `waitFor` ran out of its own time: the instance answered every poll, it just never reached the wanted state.
 * The server sent no error (a 504 would say it had), so this is no `GantryApiError`.
 */
export class WaitTimeoutError extends Error {
  readonly instanceId: number;
  readonly timeoutMs: number;
  /** The instance as the last poll showed it. */
  readonly lastRow: Record<string, unknown>;
  constructor(instanceId: number, timeoutMs: number, lastRow: Record<string, unknown>) {
    const now = typeof lastRow.actual_status === 'string' ? lastRow.actual_status : JSON.stringify(lastRow.actual_status ?? null);
    super(`instance ${instanceId} did not reach the wanted state within ${timeoutMs} ms (now ${now})`);
    this.name = 'WaitTimeoutError';
    this.instanceId = instanceId;
    this.timeoutMs = timeoutMs;
    this.lastRow = lastRow;
  }
}

/** A remote call that had no answer within the deployment's `callTimeoutMs` (no worker took it in time, or its run took longer). */
export class CallTimeoutError extends Error {
  readonly fn: string;
  readonly timeoutMs: number;
  /** `cause`, when set, is the last refusal before the deadline (a `GantryApiError`: 504 QUEUE_TIMEOUT, 503 ...). */
  constructor(fn: string, timeoutMs: number, cause?: unknown) {
    super(
      `${fn}(): no answer within callTimeoutMs (${timeoutMs} ms); the call was given up` + (cause instanceof Error ? ` (last answer: ${cause.message})` : ''),
      cause === undefined ? undefined : { cause },
    );
    this.name = 'CallTimeoutError';
    this.fn = fn;
    this.timeoutMs = timeoutMs;
  }
}

function withoutQuery(url: string): string {
  try {
    const u = new URL(url);
    return u.origin + u.pathname;
  } catch {
    return url.replace(/[?#].*$/, '');
  }
}

/**
 * `fetch`, with a failure to reach the server turned into a `GantryConnectionError`. An abort (the
 * caller's signal, a timeout) is rethrown as it is: the caller knows what it aborted for.
 */
export async function fetchOrExplain(fetchFn: typeof fetch, url: string, init: RequestInit): Promise<Response> {
  try {
    return await fetchFn(url, init);
  } catch (err) {
    if (init.signal?.aborted === true) throw err;
    // Only fetch's own "no answer" (its reason on the cause); a bad header value, say, is the caller's to see.
    if (!(err instanceof TypeError) || err.message !== 'fetch failed') throw err;
    throw new GantryConnectionError(url, err);
  }
}
