/**
 * A small typed client for Gantry's Vast-compatible API, used by the CLI and usable from any
 * Node 20 program (`import { GantryClient } from 'gantry/sdk'`).
 */
import { fetchOrExplain, GantryApiError, GantryTimeoutError, jsonBody, WaitTimeoutError } from './errors.js';

// Where the CLI and older programs import it from.
export { GantryApiError } from './errors.js';

export type Row = Record<string, unknown>;
export type InstanceState = 'running' | 'stopped';

/** `/get_endpoint_logs/`: Vast's levels (`info1` is what `vastai get endpt-logs` prints; none is empty) and Gantry's `logs`. */
export type EndpointLogLevels = Readonly<Record<'info0' | 'info1' | 'trace' | 'debug' | 'logs', string>>;

export interface CreateInstanceBody {
  image?: string;
  disk?: number;
  env?: Record<string, string> | string;
  onstart?: string;
  entrypoint?: string;
  args?: string[];
  runtype?: string;
  label?: string;
  target_state?: InstanceState;
  price?: number;
}

export interface ClientOptions {
  readonly url: string;
  readonly apiKey: string | null;
  readonly fetch?: typeof fetch;
  /**
   * How long one request may take, answer read whole, before it fails with a `GantryTimeoutError`
   * naming its URL; null: no bound of the client's own (undici's 300 s between bytes remains).
   * Calls the server holds on purpose (a stop that waits, `_infer` with a timeout) pass their own
   * bound per call; `waitFor` polls with short requests and has its own `timeoutMs`.
   * @default 60000 (1 min: every call the server answers at once, with room for a busy machine)
   */
  readonly timeoutMs?: number | null;
}

/** Per-call options of `request`. */
export interface RequestOptions {
  /** This call's bound instead of the client's `timeoutMs`; null: none (the server bounds it itself). */
  readonly timeoutMs?: number | null;
}

export const DEFAULT_REQUEST_TIMEOUT_MS = 60_000;

function checkedTimeout(ms: number | null, what: string): number | null {
  if (ms !== null && !(Number.isFinite(ms) && ms > 0)) throw new RangeError(`${what} must be a positive number of milliseconds or null, got ${String(ms)}`);
  return ms;
}

export class GantryClient {
  readonly #url: string;
  readonly #key: string | null;
  readonly #fetch: typeof fetch;
  readonly #timeoutMs: number | null;

  constructor(o: ClientOptions) {
    this.#url = o.url.replace(/\/+$/, '');
    this.#key = o.apiKey;
    this.#fetch = o.fetch ?? fetch;
    this.#timeoutMs = checkedTimeout(o.timeoutMs === undefined ? DEFAULT_REQUEST_TIMEOUT_MS : o.timeoutMs, 'timeoutMs');
  }

  /** Base URL of the API this client talks to. */
  get url(): string {
    return this.#url;
  }

  async request<T = Row>(
    method: string,
    path: string,
    body?: unknown,
    extraHeaders: Readonly<Record<string, string>> = {},
    o: RequestOptions = {},
  ): Promise<T> {
    const headers: Record<string, string> = { accept: 'application/json', ...extraHeaders };
    if (this.#key !== null) headers.authorization = `Bearer ${this.#key}`;
    // A caller may name another JSON type (AI Core's bulk PATCH is merge-patch+json).
    if (body !== undefined && !Object.keys(headers).some((k) => k.toLowerCase() === 'content-type')) headers['content-type'] = 'application/json';
    const { res, text } = await this.#fetchText(method, this.#url + path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      timeoutMs: o.timeoutMs === undefined ? this.#timeoutMs : checkedTimeout(o.timeoutMs, 'request timeoutMs'),
    });
    if (!res.ok) throw new GantryApiError(res.status, jsonBody(text), `HTTP ${res.status} from ${method} ${path}`);
    if (text === '') return null as T;
    try {
      return JSON.parse(text) as T;
    } catch {
      // A 2xx that is not JSON is not Gantry's (a web page or proxy at the URL given): say so, rather than
      // hand the caller a null that fails later as "Cannot read properties of null".
      throw new GantryApiError(res.status, null, `${method} ${path}: the answer of ${this.#url} is not JSON; is it a Gantry server? (${text.slice(0, 100)})`);
    }
  }

  /** One fetch and its body, bounded by `timeoutMs`: running out is a `GantryTimeoutError`, not an abort the caller never asked for. */
  async #fetchText(method: string, url: string, init: RequestInit & { timeoutMs: number | null }): Promise<{ res: Response; text: string }> {
    const { timeoutMs, ...rest } = init;
    const signal = timeoutMs === null ? undefined : AbortSignal.timeout(timeoutMs);
    try {
      const res = await fetchOrExplain(this.#fetch, url, signal === undefined ? rest : { ...rest, signal });
      return { res, text: await res.text() };
    } catch (err) {
      if (signal?.aborted === true && timeoutMs !== null) throw new GantryTimeoutError(method, url, timeoutMs, err);
      throw err;
    }
  }

  currentUser(): Promise<Row> {
    return this.request('GET', '/api/v0/users/current/');
  }

  async searchOffers(query: Row): Promise<Row[]> {
    return (await this.request<{ offers: Row[] }>('POST', '/api/v0/bundles/', query)).offers;
  }

  createInstance(offerId: number, body: CreateInstanceBody): Promise<{ success: boolean; new_contract: number; instance_api_key: string }> {
    return this.request('PUT', `/api/v0/asks/${offerId}/`, body);
  }

  async showInstance(id: number): Promise<Row> {
    return (await this.request<{ instances: Row }>('GET', `/api/v0/instances/${id}/`)).instances;
  }

  async listInstances(): Promise<Row[]> {
    return (await this.request<{ instances: Row[] }>('GET', '/api/v0/instances/')).instances;
  }

  setState(id: number, state: InstanceState): Promise<Row> {
    return this.request('PUT', `/api/v0/instances/${id}/`, { state });
  }

  setStates(ids: number[], state: InstanceState): Promise<Row> {
    return this.request('PUT', '/api/v0/instances/', { ids, state });
  }

  label(id: number, label: string): Promise<Row> {
    return this.request('PUT', `/api/v0/instances/${id}/`, { label });
  }

  reboot(id: number): Promise<Row> {
    return this.request('PUT', `/api/v0/instances/reboot/${id}/`);
  }

  recycle(id: number): Promise<Row> {
    return this.request('PUT', `/api/v0/instances/recycle/${id}/`);
  }

  /** Interruptible instances: the bid, $ per hour for the instance; null: the lowest the machine takes. */
  changeBid(id: number, price: number | null): Promise<Row> {
    return this.request('PUT', `/api/v0/instances/bid_price/${id}/`, { client_id: 'me', price });
  }

  /** Reserved instances: credit paid ahead (`timescale` months, `discount_rate` 0..1 in the answer). */
  prepayInstance(id: number, amount: number): Promise<Row> {
    return this.request('PUT', `/api/v0/instances/prepay/${id}/`, { amount });
  }

  /** The caller's volumes; every Gantry volume is local to its machine (a `network` listing is empty). */
  async listVolumes(type: 'local' | 'network' | 'all' = 'all'): Promise<Row[]> {
    return (await this.request<{ volumes: Row[] }>('GET', `/api/v0/volumes/?owner=me&type=${type}_volume`)).volumes;
  }

  destroy(id: number): Promise<Row> {
    return this.request('DELETE', `/api/v0/instances/${id}/`);
  }

  destroyMany(ids: number[]): Promise<Row> {
    return this.request('DELETE', '/api/v0/instances/', { instance_ids: ids });
  }

  listMachines(o: { userId?: number } = {}): Promise<{ machines: Row[] }> {
    return this.request('GET', `/api/v0/machines/${o.userId === undefined ? '' : `?user_id=${o.userId}`}`);
  }

  /** List (or re-price) a machine: price_gpu, price_disk, price_inetu, price_inetd, price_min_bid, min_chunk, end_date, discount_rate. */
  listMachine(id: number, listing: Row): Promise<Row> {
    return this.request('PUT', '/api/v0/machines/create_asks/', { machine: id, ...listing });
  }

  unlistMachine(id: number): Promise<Row> {
    return this.request('DELETE', `/api/v0/machines/${id}/asks/`);
  }

  /** `sdate` in epoch seconds, `duration` in hours. */
  scheduleMaintenance(id: number, w: { sdate: number; duration: number; maintenance_category?: string; maintenance_reason?: string }): Promise<Row> {
    return this.request('PUT', `/api/v0/machines/${id}/dnotify/`, w);
  }

  cancelMaintenance(id: number): Promise<Row> {
    return this.request('PUT', `/api/v0/machines/${id}/cancel_maint/`);
  }

  setMinBid(id: number, price: number): Promise<Row> {
    return this.request('PUT', `/api/v0/machines/${id}/minbid/`, { price });
  }

  /** A token for `gantry agent` to join one machine to the caller's account (shown once). */
  createHostToken(name?: string): Promise<{ id: number; name: string; token: string }> {
    return this.request('POST', '/api/v0/host_tokens/', { name });
  }

  verifyMachine(id: number, verified: boolean): Promise<Row> {
    return this.request('PUT', `/api/v0/machines/${id}/verify/`, { verified });
  }

  /** Ask for logs, then fetch the result URL (no auth), polling briefly until it is ready. */
  // ── serverless ─────────────────────────────────────────────────────
  async createEndpoint(body: Row): Promise<Row> {
    return this.request('POST', '/api/v0/endptjobs/', body);
  }

  async listEndpoints(): Promise<Row[]> {
    return (await this.request<{ results: Row[] }>('GET', '/api/v0/endptjobs/')).results;
  }

  async updateEndpoint(id: number, body: Row): Promise<Row> {
    return this.request('PUT', `/api/v0/endptjobs/${id}/`, body);
  }

  async deleteEndpoint(id: number): Promise<Row> {
    return this.request('DELETE', `/api/v0/endptjobs/${id}/`);
  }

  async createWorkergroup(body: Row): Promise<Row> {
    return this.request('POST', '/api/v0/workergroups/', body);
  }

  async listWorkergroups(): Promise<Row[]> {
    return (await this.request<{ results: Row[] }>('GET', '/api/v0/workergroups/')).results;
  }

  async deleteWorkergroup(id: number): Promise<Row> {
    return this.request('DELETE', `/api/v0/workergroups/${id}/`);
  }

  async endpointWorkers(endpointId: number): Promise<Row[]> {
    // A list, as Vast answers it (Gantry answered { workers } before).
    const r = await this.request<Row[] | { workers: Row[] }>('POST', '/get_endpoint_workers/', { id: endpointId });
    return Array.isArray(r) ? r : r.workers;
  }

  /** The workers' text alone, each after `--- worker N ---` (empty without workers). By name, or by id (as `vastai get endpt-logs ID`). */
  async endpointLogs(endpoint: string | number, tail?: number): Promise<string> {
    return (await this.endpointLogLevels(endpoint, tail)).logs;
  }

  /** Vast's levels, as its CLIs print them: without workers, or under a worker that printed nothing, they say so. */
  async endpointLogLevels(endpoint: string | number, tail?: number): Promise<EndpointLogLevels> {
    const which = typeof endpoint === 'number' ? { id: endpoint } : { endpoint };
    return this.request<EndpointLogLevels>('POST', '/get_endpoint_logs/', { ...which, tail });
  }

  async createDeployment(body: Row): Promise<Row> {
    return (await this.request<{ deployment: Row }>('POST', '/api/v0/deployments/', body)).deployment;
  }

  async listDeployments(): Promise<Row[]> {
    return (await this.request<{ deployments: Row[] }>('GET', '/api/v0/deployments/')).deployments;
  }

  async showDeployment(id: number): Promise<Row> {
    return (await this.request<{ deployment: Row }>('GET', `/api/v0/deployment/${id}/`)).deployment;
  }

  /** Stop a deployment; `finishPendingWork` drains accepted and queued requests first (bounded by `timeoutS`). */
  async stopDeployment(id: number, o: { finishPendingWork?: boolean; force?: boolean; timeoutS?: number } = {}): Promise<Row> {
    return this.request('POST', `/api/v0/deployment/${id}/stop/`, {
      finish_pending_work: o.finishPendingWork ?? false,
      force: o.force ?? false,
      timeout: o.timeoutS,
    });
  }

  async startDeployment(id: number): Promise<Row> {
    return this.request('POST', `/api/v0/deployment/${id}/start/`);
  }

  async deleteDeployment(id: number): Promise<Row> {
    return this.request('DELETE', `/api/v0/deployment/${id}/`);
  }

  async route(endpoint: string, cost = 1, requestIdx?: number): Promise<Row> {
    return this.request('POST', '/route/', { endpoint, cost, request_idx: requestIdx });
  }

  // ── accounts, keys, secrets, SSH keys ───────────────────────────────
  /** A top-level user (admin keys) or, with `subaccount`, a subaccount of the caller. Answers `{id, api_key, ...}`; the key is shown once. */
  async createUser(username: string, o: { email?: string; subaccount?: boolean; credit?: number } = {}): Promise<Row> {
    return this.request('POST', '/api/v0/users/', { username, email: o.email, parent_id: o.subaccount === true ? 'me' : undefined, credit: o.credit });
  }

  async createApiKey(name: string, permissions?: Row, teamId?: number): Promise<Row> {
    return this.request('POST', '/api/v0/auth/apikeys/', { name, permissions, team_id: teamId });
  }

  async listApiKeys(): Promise<Row[]> {
    return (await this.request<{ apikeys: Row[] }>('GET', '/api/v0/auth/apikeys/')).apikeys;
  }

  async deleteApiKey(id: number): Promise<Row> {
    return this.request('DELETE', `/api/v0/auth/apikeys/${id}/`);
  }

  async envVars(): Promise<Record<string, string>> {
    return (await this.request<{ secrets: Record<string, string> }>('GET', '/api/v0/secrets/')).secrets;
  }

  async setEnvVar(key: string, value: string, mode: 'create' | 'update' = 'create'): Promise<Row> {
    return this.request(mode === 'create' ? 'POST' : 'PUT', '/api/v0/secrets/', { key, value });
  }

  async deleteEnvVar(key: string): Promise<Row> {
    return this.request('DELETE', '/api/v0/secrets/', { key });
  }

  async createSshKey(sshKey: string): Promise<Row> {
    return (await this.request<{ key: Row }>('POST', '/api/v0/ssh/', { ssh_key: sshKey })).key;
  }

  async listSshKeys(): Promise<Row[]> {
    return this.request<Row[]>('GET', '/api/v0/ssh/');
  }

  async deleteSshKey(id: number): Promise<Row> {
    return this.request('DELETE', `/api/v0/ssh/${id}/`);
  }

  async attachSshKey(instanceId: number, sshKey: string): Promise<Row> {
    return this.request('POST', `/api/v0/instances/${instanceId}/ssh/`, { ssh_key: sshKey });
  }

  async detachSshKey(instanceId: number, keyId: number): Promise<Row> {
    return this.request('DELETE', `/api/v0/instances/${instanceId}/ssh/${keyId}/`);
  }

  // ── billing and audit ──────────────────────────────────────────────
  async transferCredit(recipient: string, amount: number): Promise<Row> {
    return this.request('PUT', '/api/v0/commands/transfer_credit/', { recipient, amount });
  }

  async charges(o: { format?: 'table' | 'tree'; limit?: number } = {}): Promise<Row> {
    return this.request('GET', `/api/v0/charges/?format=${o.format ?? 'table'}&limit=${o.limit ?? 100}`);
  }

  async invoices(): Promise<Row> {
    return this.request('GET', '/api/v1/invoices/');
  }

  /** What the machines of `userId` earned; `'me'`: the caller's. */
  async machineEarnings(userId: number | 'me' = 'me'): Promise<Row> {
    return this.request('GET', `/api/v0/users/${userId}/machine-earnings/`);
  }

  async auditLogs(limit = 100): Promise<Row[]> {
    return this.request<Row[]>('GET', `/api/v0/audit_logs/?limit=${limit}`);
  }

  async logs(id: number, o: { tail?: number; filter?: string } = {}): Promise<string> {
    const r = await this.request<{ result_url: string }>('PUT', `/api/v0/instances/request_logs/${id}/`, { tail: o.tail, filter: o.filter });
    let last: { res: Response; text: string } | null = null;
    for (let i = 0; i < 20; i++) {
      if (last !== null) await new Promise((resolve) => setTimeout(resolve, 250));
      last = await this.#fetchText('GET', r.result_url, { timeoutMs: this.#timeoutMs });
      if (last.res.ok) return last.text;
    }
    // The status is the one the result URL last answered (no invented 504): what the server really said.
    throw new GantryApiError(
      last?.res.status ?? 0,
      jsonBody(last?.text ?? ''),
      `The log result was not ready after 20 tries (last: HTTP ${String(last?.res.status)}).`,
    );
  }

  /**
   * Poll an instance until `done(row)` holds; a `WaitTimeoutError` after `timeoutMs` (default 5 min).
   * Each poll is a short request, bounded by the client's `timeoutMs`: the wait is as long as this one says.
   */
  async waitFor(id: number, done: (row: Row) => boolean, o: { timeoutMs?: number; intervalMs?: number; onPoll?: (row: Row) => void } = {}): Promise<Row> {
    const timeoutMs = o.timeoutMs ?? 300_000;
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const row = await this.showInstance(id);
      o.onPoll?.(row);
      if (done(row)) return row;
      if (Date.now() > deadline) throw new WaitTimeoutError(id, timeoutMs, row);
      await new Promise((resolve) => setTimeout(resolve, o.intervalMs ?? 250));
    }
  }
}
