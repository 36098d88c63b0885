import { randomBytes } from 'node:crypto';
import { isDeepStrictEqual } from 'node:util';

/**
 * Sessions as Vast's worker library serves them (`/session/create`, `/session/get`, `/session/health`,
 * `/session/end`), so the official serverless client's `endpoint.session()` works against a Gantry
 * worker. A session binds a client to this worker: it is opened with a routed request (its signed
 * `auth_data`), and later requests name it by `session_id` with that same `auth_data`. Each request
 * extends it by its lifetime; an expired or ended one is removed and its `on_close_route` is called.
 */
export interface WorkerSession {
  readonly id: string;
  readonly authData: unknown;
  /** Seconds each request adds. */
  readonly lifetime: number;
  /** Seconds since the epoch. */
  expiration: number;
  readonly createdAt: number;
  readonly onCloseRoute: string | null;
  readonly onClosePayload: unknown;
}

export interface SessionAnswer {
  readonly status: number;
  readonly body: Readonly<Record<string, unknown>>;
}

/** How long the callback to `on_close_route` may take, as Vast's library bounds it. */
const ON_CLOSE_TIMEOUT_MS = 10_000;
const GC_INTERVAL_MS = 1_000;
const MAX_LIFETIME_S = 7 * 24 * 3600;

const nowS = (): number => Date.now() / 1000;

export class WorkerSessions {
  readonly #sessions = new Map<string, WorkerSession>();
  readonly #gc: NodeJS.Timeout;

  constructor() {
    this.#gc = setInterval(() => void this.expire(), GC_INTERVAL_MS);
    this.#gc.unref();
  }

  /** Open sessions count as requests in progress, as in Vast's library: the engine does not retire a worker that holds one. */
  get open(): number {
    return this.#sessions.size;
  }

  /** `/session/create`, for a request already verified as routed by the engine. */
  create(authData: unknown, payload: unknown): SessionAnswer {
    const p = typeof payload === 'object' && payload !== null ? (payload as Record<string, unknown>) : {};
    const lifetime = typeof p.lifetime === 'number' && Number.isFinite(p.lifetime) && p.lifetime > 0 ? Math.min(p.lifetime, MAX_LIFETIME_S) : 60;
    const route = typeof p.on_close_route === 'string' && p.on_close_route !== '' ? p.on_close_route : null;
    const s: WorkerSession = {
      id: randomBytes(12).toString('base64url'),
      authData,
      lifetime,
      expiration: nowS() + lifetime,
      createdAt: nowS(),
      onCloseRoute: route,
      onClosePayload: route !== null ? (p.on_close_payload ?? null) : null,
    };
    this.#sessions.set(s.id, s);
    return { status: 201, body: { session_id: s.id, expiration: s.expiration } };
  }

  /** The session a work request names, extended by its lifetime; undefined: no such session (Vast answers 410). */
  use(id: string): WorkerSession | undefined {
    const s = this.#sessions.get(id);
    if (s !== undefined) s.expiration += s.lifetime;
    return s;
  }

  /** `/session/get`, `/session/health` and `/session/end`: the caller proves itself with the session's `auth_data`. */
  async answer(route: 'get' | 'health' | 'end', body: Record<string, unknown>): Promise<SessionAnswer> {
    const id = body.session_id;
    if (typeof id !== 'string' || id === '') return { status: 422, body: { error: 'missing session_id' } };
    const s = this.#sessions.get(id);
    if (s === undefined) {
      if (route === 'health') return { status: 200, body: { ok: false } };
      return { status: 400, body: { error: route === 'end' ? `session with id ${id} not found` : 'session does not exist' } };
    }
    if (!isDeepStrictEqual(body.session_auth, s.authData)) return { status: 401, body: { error: 'session_auth is not valid' } };
    if (route === 'health') return { status: 200, body: { ok: true } };
    if (route === 'get') {
      s.expiration += s.lifetime;
      return {
        status: 200,
        body: {
          session_id: s.id,
          auth_data: s.authData,
          lifetime: s.lifetime,
          expiration: s.expiration,
          created_at: s.createdAt,
          on_close_route: s.onCloseRoute,
          on_close_payload: s.onClosePayload,
        },
      };
    }
    if (!(await this.#close(id))) return { status: 410, body: { error: 'session already closed' } };
    return { status: 200, body: { ended: true, removed_session: id } };
  }

  /** Remove the sessions past their expiration. */
  async expire(): Promise<void> {
    const now = nowS();
    for (const s of [...this.#sessions.values()]) if (s.expiration <= now) await this.#close(s.id);
  }

  /** End every session (the worker is closing). */
  async closeAll(): Promise<void> {
    clearInterval(this.#gc);
    for (const id of [...this.#sessions.keys()]) await this.#close(id);
  }

  async #close(id: string): Promise<boolean> {
    const s = this.#sessions.get(id);
    if (s === undefined) return false;
    this.#sessions.delete(id);
    if (s.onCloseRoute !== null) {
      // Best effort, bounded, as Vast's library does it: the receiver learns which session ended.
      const p = s.onClosePayload;
      const body = typeof p === 'object' && p !== null && !Array.isArray(p) ? { ...(p as Record<string, unknown>) } : p === null ? {} : { payload: p };
      if (!('session_id' in body)) (body as Record<string, unknown>).session_id = s.id;
      await fetch(s.onCloseRoute, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
        signal: AbortSignal.timeout(ON_CLOSE_TIMEOUT_MS),
      }).catch(() => undefined);
    }
    return true;
  }
}
