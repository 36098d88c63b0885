/**
 * The console's fetch client. Every call carries the key as `Authorization: Bearer`, never in a URL.
 * An error answer becomes an ApiError with the API's own message, whichever dialect's body shape it
 * came in, so pages show what the server said instead of a bare status.
 */

export class ApiError extends Error {
  constructor(
    message: string,
    readonly status: number,
    readonly code: string | null,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);
const str = (v: unknown): string | null => (typeof v === 'string' && v !== '' ? v : null);

/** The message and code of an error body: Vast `{success:false,error,msg}`, console and AI Core `{error:{code,message}}`, Elasticsearch `{error:{type,reason}}`. */
export function errorOf(body: unknown, status: number, fallback: string): ApiError {
  if (isObject(body)) {
    const e = body.error;
    if (isObject(e)) {
      const message = str(e.message) ?? str(e.reason) ?? fallback;
      return new ApiError(message, status, str(e.code) ?? str(e.type));
    }
    const msg = str(body.msg) ?? str(body.message) ?? str(body.detail);
    if (msg !== null) return new ApiError(msg, status, str(e));
    if (str(e) !== null) return new ApiError(str(e) ?? fallback, status, null);
  }
  if (typeof body === 'string' && body.trim() !== '') return new ApiError(body.trim().slice(0, 500), status, null);
  return new ApiError(fallback, status, null);
}

let currentKey: string | null = null;

/** The key every call carries (set by session.ts at login and from the tab's storage). */
export function useKey(key: string | null): void {
  currentKey = key;
}

let unauthorized: ((err: ApiError) => void) | null = null;

/** Called when the tab's key is refused (401: revoked or expired mid-session); the shell returns to the login page. */
export function onUnauthorized(handler: ((err: ApiError) => void) | null): void {
  unauthorized = handler;
}

/** The tab's key was refused: tell the shell (only for calls made with it, never for a key being tried at login). */
export function keyRefused(err: ApiError): void {
  unauthorized?.(err);
}

export interface CallOptions {
  readonly body?: unknown;
  readonly key?: string;
  readonly signal?: AbortSignal;
}

/** One call to the API; resolves to the parsed JSON body (or text), rejects with an ApiError. */
export async function api<T = unknown>(method: string, path: string, o: CallOptions = {}): Promise<T> {
  const headers: Record<string, string> = { accept: 'application/json' };
  const key = o.key ?? currentKey;
  if (key !== null) headers.authorization = `Bearer ${key}`;
  if (o.body !== undefined) headers['content-type'] = 'application/json';
  let res: Response;
  try {
    res = await fetch(path, { method, headers, body: o.body === undefined ? null : JSON.stringify(o.body), signal: o.signal ?? null });
  } catch (err) {
    if (err instanceof DOMException && err.name === 'AbortError') throw err;
    throw new ApiError(`The server could not be reached (${err instanceof Error ? err.message : String(err)}).`, 0, null);
  }
  const text = await res.text();
  let body: unknown = text;
  if ((res.headers.get('content-type') ?? '').includes('json') && text !== '') {
    try {
      body = JSON.parse(text) as unknown;
    } catch {
      body = text;
    }
  }
  if (!res.ok) {
    const err = errorOf(body, res.status, `${method} ${path} failed with HTTP ${res.status}.`);
    if (res.status === 401 && o.key === undefined && key !== null) keyRefused(err);
    throw err;
  }
  // Vast answers some refusals with 200 and success:false.
  if (isObject(body) && body.success === false) throw errorOf(body, res.status, `${method} ${path} was refused.`);
  return body as T;
}

/** The headers a streaming call needs (push.ts reads the event stream with fetch). */
export function authHeaders(): Record<string, string> {
  return currentKey === null ? {} : { authorization: `Bearer ${currentKey}` };
}

/** A message for anything thrown, for the error banner. */
export function messageOf(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}
