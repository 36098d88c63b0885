import type { Heartbeat, Hello, Results, SessionMessage, Welcome } from '../control/hosts/agent-hub.js';
import type { AgentHub } from '../control/hosts/agent-hub.js';
import type { AgentCommand } from '../control/hosts/agent-session.js';
import { GantryError, isGantryError, type ErrorCode, ERROR_CODES } from '../domain/errors.js';

/** How an agent talks to its control plane: over HTTP (`gantry agent`) or by direct calls (`gantry up`). */
export interface AgentChannel {
  hello(h: Hello): Promise<Welcome>;
  heartbeat(m: Heartbeat): Promise<void>;
  poll(m: SessionMessage & { waitMs: number }): Promise<AgentCommand[]>;
  results(m: Results): Promise<void>;
}

/** The embedded host: the same protocol, minus the wire. */
export class InProcessChannel implements AgentChannel {
  readonly #hub: AgentHub;
  readonly #token: string;

  constructor(hub: AgentHub, token: string) {
    this.#hub = hub;
    this.#token = token;
  }

  hello(h: Hello): Promise<Welcome> {
    // No wire, no budget: the embedded host's messages are this process's own work.
    return this.#hub.hello(this.#token, h, { metered: false });
  }
  heartbeat(m: Heartbeat): Promise<void> {
    return this.#hub.heartbeat(this.#token, m);
  }
  poll(m: SessionMessage & { waitMs: number }): Promise<AgentCommand[]> {
    return this.#hub.poll(this.#token, m);
  }
  results(m: Results): Promise<void> {
    this.#hub.results(this.#token, m);
    return Promise.resolve();
  }
}

/** `POST {server}/agent/v1/{hello,heartbeat,poll,results}` with the host token as a bearer key. */
export class HttpChannel implements AgentChannel {
  readonly #base: string;
  readonly #token: string;
  readonly #timeoutMs: number;

  /** `timeoutMs`: bound on one request (agentRequestTimeoutMs); a poll gets the time it is held open more. */
  constructor(server: string, token: string, timeoutMs = 30_000) {
    this.#base = server.replace(/\/+$/, '') + '/agent/v1/';
    this.#token = token;
    this.#timeoutMs = timeoutMs;
  }

  hello(h: Hello): Promise<Welcome> {
    return this.#post('hello', h, this.#timeoutMs) as Promise<Welcome>;
  }
  async heartbeat(m: Heartbeat): Promise<void> {
    await this.#post('heartbeat', m, this.#timeoutMs);
  }
  async poll(m: SessionMessage & { waitMs: number }): Promise<AgentCommand[]> {
    const r = (await this.#post('poll', m, m.waitMs + this.#timeoutMs)) as { commands: AgentCommand[] };
    return r.commands;
  }
  async results(m: Results): Promise<void> {
    await this.#post('results', m, this.#timeoutMs);
  }

  async #post(path: string, body: unknown, timeoutMs: number): Promise<unknown> {
    const res = await fetch(this.#base + path, {
      method: 'POST',
      headers: { authorization: `Bearer ${this.#token}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(timeoutMs),
    });
    const text = await res.text();
    if (res.ok) return JSON.parse(text) as unknown;
    let err: { code?: string; message?: string } = {};
    try {
      err = (JSON.parse(text) as { error?: typeof err }).error ?? {};
    } catch {
      // not our error shape (a proxy in between): fall through with the status
    }
    const code = err.code !== undefined && err.code in ERROR_CODES ? (err.code as ErrorCode) : res.status === 401 ? 'UNAUTHENTICATED' : 'INTERNAL';
    // A refusal to come back later (RATE_LIMITED) says when: the agent waits that long and sends again.
    const retryAfter = Number(res.headers.get('retry-after'));
    const later = Number.isFinite(retryAfter) && retryAfter > 0 ? { retryAfter } : {};
    throw new GantryError(code, err.message ?? `HTTP ${res.status} from ${path}`, { status: res.status, ...later });
  }
}

/**
 * How long to wait before asking again when the control plane said so, in ms; null otherwise: when it limits
 * this host (RATE_LIMITED), and when its database is away (DATABASE_UNAVAILABLE: its Retry-After is a second).
 * The session stays. An agent that took the database's absence for the control plane's and backed off to
 * retryMaxMs (5 s) said hello that much later than the database came back, past a short machineOfflineMs.
 */
export function retryLaterMs(e: unknown): number | null {
  if (!isGantryError(e) || (e.code !== 'RATE_LIMITED' && e.code !== 'DATABASE_UNAVAILABLE')) return null;
  const s = e.details.retryAfter;
  return (typeof s === 'number' && s > 0 ? Math.min(s, 60) : 1) * 1000;
}

/** A refusal that will not change by retrying with the same token. */
export function isFatal(e: unknown): boolean {
  return isGantryError(e) && (e.code === 'UNAUTHENTICATED' || e.code === 'FORBIDDEN' || e.code === 'INVALID_ARGUMENT' || e.code === 'MACHINE_DELETED');
}
