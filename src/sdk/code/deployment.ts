import { fileURLToPath } from 'node:url';
import { CallTimeoutError, fetchOrExplain, GantryApiError, GantryTimeoutError, jsonBody } from '../errors.js';
import { DEFAULT_REQUEST_TIMEOUT_MS } from '../client.js';
import { defaultConnection, serving } from './code-env.js';
import { packApp } from './package.js';
import { isWireError, RemoteError, type CallAnswer } from './remote-error.js';

/**
 * Gantry's deployments SDK for Node (issue 18, decision 020): the model of Vast's Python SDK
 * (`Deployment`, remote functions, contexts, an image, autoscaling, `ensureReady`) over the same
 * wire (`PUT /api/v0/deployments/`, the upload form, `/update_workers/`, heartbeats), so the same
 * server code serves both. On a client, `ensureReady` packs the entry file and its local imports and
 * deploys them, and a remote function's call goes through `/endpoints/{name}/remote/{fn}`. On a
 * worker (the bootstrap, code-worker.ts, sets GANTRY_CODE_SERVE) the same module registers its
 * functions instead, and a remote function runs where it is called.
 */
export interface DeploymentOptions {
  readonly name: string;
  readonly tag?: string;
  /** Seconds without a client heartbeat after which Gantry stops the deployment. */
  readonly ttl?: number;
  readonly apiKey?: string;
  readonly url?: string;
  /** The module that makes the deployment (pass `import.meta.url`); default: the script Node runs. */
  readonly entry?: string | URL;
  readonly versionLabel?: string;
  /**
   * How long one remote call may take, its wait for a worker (cold start included) and the function's own
   * run together, then a `CallTimeoutError`; default 10 minutes. Raise it for functions that run longer.
   */
  readonly callTimeoutMs?: number;
  /**
   * How long one of the deployment's API requests (deploy, heartbeat, look-ups) may take, then a
   * `GantryTimeoutError`; default 1 minute. Not the code upload (its size sets its time) nor remote calls (`callTimeoutMs`).
   */
  readonly requestTimeoutMs?: number;
}

export interface RemoteOptions {
  /** Run once on each worker before it takes calls; the calls per second it manages is the worker's perf. */
  readonly benchmark?: { readonly args: readonly unknown[]; readonly runs?: number };
  /** The route name; default the function's own name. */
  readonly name?: string;
}

export interface AutoscalingOptions {
  readonly maxWorkers?: number;
  readonly coldWorkers?: number;
  readonly minLoad?: number;
  readonly minColdLoad?: number;
  readonly targetUtil?: number;
  readonly coldMult?: number;
  readonly maxQueueTime?: number;
  readonly targetQueueTime?: number;
  readonly inactivityTimeout?: number;
}

export interface ReadyResult {
  readonly action: string;
  readonly deploymentId: number;
  readonly endpointId: number;
  readonly workergroupId: number;
  readonly uploaded: boolean;
  readonly fileHash: string;
}

/** A context: one instance per worker, entered before the worker takes calls. */
export interface ContextClass<C = object> {
  new (): C & { enter?(): Promise<void> | void; exit?(): Promise<void> | void };
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type AnyFn = (...args: any[]) => Promise<unknown>;

/** What the worker's bootstrap reads of an app. */
export interface RegisteredApp {
  readonly name: string;
  readonly remotes: ReadonlyMap<string, { readonly fn: AnyFn; readonly options: RemoteOptions }>;
  readonly contexts: readonly ContextClass[];
  readonly instances: Map<ContextClass, object>;
}

/** Where a serving worker's bootstrap waits for the app (shared through globalThis: the entry may load the SDK by another path). */
const HOOK = Symbol.for('gantry.code.serve');
type Hook = { ready(app: RegisteredApp): void };

const AUTOSCALE_FIELDS: Record<keyof AutoscalingOptions, string> = {
  maxWorkers: 'max_workers',
  coldWorkers: 'cold_workers',
  minLoad: 'min_load',
  minColdLoad: 'min_cold_load',
  targetUtil: 'target_util',
  coldMult: 'cold_mult',
  maxQueueTime: 'max_queue_time',
  targetQueueTime: 'target_queue_time',
  inactivityTimeout: 'inactivity_timeout',
};

/** `app.image(image, diskGb)`: the worker's image, disk, npm packages, offer query, env and setup commands. */
export class Image {
  readonly npm: string[] = [];
  readonly envs: [string, string][] = [];
  readonly runs: string[] = [];
  query: string | null = null;
  constructor(
    readonly image: string,
    readonly diskGb: number,
  ) {}
  install(...packages: string[]): this {
    this.npm.push(...packages);
    return this;
  }
  /** Vast's offer query (`gpu_name=RTX_4090 num_gpus>=1`): the deployment's `search_params`. */
  require(query: string): this {
    this.query = this.query === null ? query : `${this.query} ${query}`;
    return this;
  }
  env(key: string, value: string): this {
    this.envs.push([key, value]);
    return this;
  }
  run(command: string): this {
    this.runs.push(command);
    return this;
  }
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export class Deployment {
  readonly name: string;
  readonly tag: string;
  readonly #o: DeploymentOptions;
  readonly #app: RegisteredApp;
  #image: Image | null = null;
  #autoscaling: AutoscalingOptions = {};
  #heartbeat: NodeJS.Timeout | null = null;
  #ready = false;
  /** The deployment's id, once `ensureReady` put it. */
  #id: number | null = null;

  constructor(o: DeploymentOptions) {
    if (typeof o?.name !== 'string' || o.name === '') throw new Error('new Deployment({ name }): a name is required');
    this.name = o.name;
    this.tag = o.tag ?? 'default';
    this.#o = o;
    this.#app = { name: o.name, remotes: new Map(), contexts: [], instances: new Map() };
  }

  /** The endpoint the deployment's calls go to (`<name>.<tag>` for a tag other than `default`). */
  get endpointName(): string {
    return this.tag === 'default' ? this.name : `${this.name}.${this.tag}`;
  }

  /** A function to run on the deployment's workers: the returned function has the same signature. */
  remote<F extends AnyFn>(fn: F, options: RemoteOptions = {}): F {
    const name = options.name ?? fn.name;
    if (!/^[A-Za-z_$][\w$-]*$/.test(name))
      throw new Error(`app.remote: a remote function needs a name (a named function or { name }), got ${JSON.stringify(name)}`);
    if (this.#app.remotes.has(name)) throw new Error(`app.remote: ${name} is registered twice`);
    (this.#app.remotes as Map<string, { fn: AnyFn; options: RemoteOptions }>).set(name, { fn, options });
    if (serving()) return fn;
    return (async (...args: unknown[]) => this.#call(name, args)) as F;
  }

  /** A class whose one instance per worker is entered (`enter()`) before calls and shared by them (`getContext`). */
  context<C extends ContextClass>(cls: C): C {
    (this.#app.contexts as ContextClass[]).push(cls);
    return cls;
  }

  /** The worker's instance of a context class (on a worker, inside a remote function). */
  getContext<C extends object>(cls: ContextClass<C>): C {
    const inst = this.#app.instances.get(cls);
    if (inst === undefined)
      throw new Error(
        serving()
          ? `context ${cls.name} was not registered with app.context()`
          : `context ${cls.name} lives on the workers: call getContext inside a remote function`,
      );
    return inst as C;
  }

  image(image: string, diskGb: number): Image {
    this.#image = new Image(image, diskGb);
    return this.#image;
  }

  configureAutoscaling(o: AutoscalingOptions): this {
    this.#autoscaling = { ...this.#autoscaling, ...o };
    return this;
  }

  /**
   * Deploy (or find unchanged) the app and start the heartbeat. On a worker this hands the app to
   * the bootstrap and never settles, so the rest of the entry module (the client's own calls) does not run there.
   */
  async ensureReady(): Promise<ReadyResult> {
    if (serving()) {
      (globalThis as unknown as Record<symbol, Hook | undefined>)[HOOK]?.ready(this.#app);
      return new Promise<ReadyResult>(() => undefined);
    }
    const image = this.#image;
    if (image === null) throw new Error('ensureReady: no image configured: call app.image(image, diskGb) first');
    const entry = this.#entryFile();
    const packed = packApp(entry, { name: this.name, npm: image.npm, envs: image.envs, runs: image.runs });
    const body: Record<string, unknown> = {
      name: this.name,
      tag: this.tag,
      image: image.image,
      // The marker that makes the control plane start Gantry's Node bootstrap instead of Vast's Python one.
      env: '-e GANTRY_CODE_RUNTIME=node',
      file_hash: packed.fileHash,
      file_size: packed.tarball.length,
      search_params: image.query,
      storage: image.diskGb,
      ttl: this.#o.ttl ?? null,
      version_label: this.#o.versionLabel ?? null,
    };
    for (const [k, field] of Object.entries(AUTOSCALE_FIELDS)) {
      const v = this.#autoscaling[k as keyof AutoscalingOptions];
      if (v !== undefined) body[field] = v;
    }
    const put = await this.#api('PUT', '/api/v0/deployments/', body);
    let uploaded = false;
    if (typeof put.upload_url === 'string' && put.upload_fields !== null && typeof put.upload_fields === 'object') {
      const form = new FormData();
      for (const [k, v] of Object.entries(put.upload_fields as Record<string, string>)) form.append(k, v);
      form.append('file', new Blob([packed.tarball], { type: 'application/gzip' }), 'deployment.tar.gz');
      // No bound of the client's: the tarball's size and the link set how long this takes (requestTimeoutMs is for answers).
      const res = await fetchOrExplain(fetch, put.upload_url, { method: 'POST', body: form });
      const text = await res.text();
      if (![200, 201, 204].includes(res.status)) throw new GantryApiError(res.status, jsonBody(text), `HTTP ${res.status}`, { context: 'upload refused' });
      uploaded = true;
    }
    const wg = Number(put.workergroup_id);
    if (put.action === 'soft_update') await this.#api('POST', '/update_workers/', { workergroup_id: wg });
    const id = Number(put.deployment_id);
    const ttl = this.#o.ttl;
    if (ttl !== undefined && ttl !== null && this.#heartbeat === null) {
      const beat = (): Promise<unknown> => this.#api('POST', `/api/v0/deployment/${id}/heartbeat/`, {}).catch(() => undefined);
      // One now: a deployment past its ttl (its last client long gone, the loop not yet there) is this client's from here on.
      await beat();
      this.#heartbeat = setInterval(() => void beat(), Math.min(ttl / 2, 60) * 1000);
      this.#heartbeat.unref();
    }
    this.#id = id;
    this.#ready = true;
    return { action: String(put.action), deploymentId: id, endpointId: Number(put.endpoint_id), workergroupId: wg, uploaded, fileHash: packed.fileHash };
  }

  #entryFile(): string {
    const e = this.#o.entry ?? process.argv[1];
    if (e === undefined) throw new Error('ensureReady: no entry module: pass { entry: import.meta.url }');
    return e instanceof URL || e.startsWith('file:') ? fileURLToPath(e) : e;
  }

  #conn(): { url: string; apiKey: string | null } {
    const d = defaultConnection();
    return { url: (this.#o.url ?? d.url).replace(/\/+$/, ''), apiKey: this.#o.apiKey ?? d.apiKey };
  }

  async #api(method: string, path: string, body: unknown): Promise<Record<string, unknown>> {
    const c = this.#conn();
    const timeoutMs = this.#o.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
    const signal = AbortSignal.timeout(timeoutMs);
    let res: Response;
    let text: string;
    try {
      res = await fetchOrExplain(fetch, c.url + path, { method, headers: this.#headers(c.apiKey), body: JSON.stringify(body), signal });
      text = await res.text();
    } catch (err) {
      if (signal.aborted) throw new GantryTimeoutError(method, c.url + path, timeoutMs, err);
      throw err;
    }
    const parsed = jsonBody(text);
    if (!res.ok) throw new GantryApiError(res.status, parsed, `HTTP ${res.status}`, { context: `${method} ${path}` });
    if (parsed === null) throw new GantryApiError(res.status, null, `not a JSON object: ${text.slice(0, 200)}`, { context: `${method} ${path}` });
    return parsed;
  }

  #headers(apiKey: string | null): Record<string, string> {
    return { 'content-type': 'application/json', ...(apiKey !== null ? { authorization: `Bearer ${apiKey}` } : {}) };
  }

  /**
   * What the deployment's record says of a refusal's ENDPOINT_STOPPED: `failed` (its workers kept
   * failing: `gantry_status`), `stopped`, or null (it runs: a replica that has not heard of a start yet
   * refuses the same way, for a moment; or the record could not be read). Read from the record's
   * fields, not the refusal's words, which each dialect writes its own way.
   */
  async #stoppedAs(): Promise<'stopped' | 'failed' | null> {
    const shown = await this.#api('GET', `/api/v0/deployment/${String(this.#id)}/`, undefined).catch(() => null);
    const d = shown?.deployment as { endpoint_state?: unknown; gantry_status?: unknown } | undefined;
    if (d?.endpoint_state !== 'stopped') return null;
    return d.gantry_status === 'failed' ? 'failed' : 'stopped';
  }

  #finalMessage(why: 'stopped' | 'failed'): string {
    if (why === 'stopped') return `deployment '${this.name}' is stopped; start it and call again`;
    return `deployment '${this.name}' failed: its workers kept failing (its endpoint's status_msg says why); fix that, then start it and call again`;
  }

  /**
   * A call through the endpoint's proxy; a worker not there yet (cold start) is waited for. The
   * gateway holds the request while no worker can take it, and answers 504 only after its own queue
   * timeout, so `callTimeoutMs` bounds each attempt too (an abort: the gateway drops a request whose
   * caller left), not only the retries after one.
   */
  async #call(fn: string, args: unknown[]): Promise<unknown> {
    if (!this.#ready) throw new Error(`${fn}(): the deployment is not ready: await app.ensureReady() first`);
    const c = this.#conn();
    const timeoutMs = this.#o.callTimeoutMs ?? 600_000;
    const deadline = Date.now() + timeoutMs;
    const body = JSON.stringify({ args });
    let last: GantryApiError | undefined;
    for (let attempt = 0; ; attempt++) {
      const left = deadline - Date.now();
      if (left <= 0) throw new CallTimeoutError(fn, timeoutMs, last);
      const signal = AbortSignal.timeout(left);
      let res: Response;
      let text: string;
      try {
        res = await fetchOrExplain(fetch, `${c.url}/endpoints/${encodeURIComponent(this.endpointName)}/remote/${fn}`, {
          method: 'POST',
          headers: this.#headers(c.apiKey),
          body,
          signal,
        });
        text = await res.text();
      } catch (err) {
        if (signal.aborted) throw new CallTimeoutError(fn, timeoutMs, last);
        throw err;
      }
      const parsed = jsonBody(text);
      const answer = parsed as CallAnswer | null;
      if (answer !== null && 'error' in answer && isWireError(answer.error)) throw new RemoteError(fn, answer.error);
      if (res.ok && answer !== null && 'result' in answer) return answer.result;
      const refused = new GantryApiError(res.status, parsed, `HTTP ${res.status}: ${text.slice(0, 200)}`, { context: `${fn}()` });
      // A stopped or failed deployment stays so until someone starts it: say so now rather than retry until the deadline
      // (once its record says so: a replica that has not heard of a start yet refuses the same way, for a moment).
      // A failed one is told apart: started again unchanged, its workers would fail again.
      const final = res.status === 503 && refused.code === 'ENDPOINT_STOPPED' ? await this.#stoppedAs() : null;
      if (final !== null) throw new GantryApiError(503, parsed, '', { context: `${fn}()`, message: this.#finalMessage(final) });
      // No workergroup (deleted, or never made) stays so until someone makes one: no retry would change it.
      if (![429, 502, 503, 504].includes(res.status) || refused.code === 'NO_WORKERGROUP') throw refused;
      last = refused;
      await sleep(Math.min(250 * 2 ** attempt, 2_000, Math.max(0, deadline - Date.now())));
    }
  }
}
