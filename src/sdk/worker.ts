import { createPublicKey, verify, type KeyObject } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { reportCall } from './report-call.js';
import { WorkerSessions, type SessionAnswer } from './worker-sessions.js';

/**
 * A small helper for serverless workers. It serves requests on $WORKER_PORT, takes only requests the
 * engine routed (the RSA signature over `{"url": ...}` that Vast's workers check, in the proxy's
 * x-gantry-* headers or in a Vast-style `auth_data` body), reports load to $REPORT_ADDR/worker_status/
 * with its MASTER_TOKEN, and reports its benchmark (perf: load units per second) once it is ready.
 * It serves Vast's session routes (`/session/create`, `/session/get`, `/session/health`, `/session/end`:
 * worker-sessions.ts) as Vast's worker library does. On SIGTERM it stops taking connections and
 * finishes the requests in flight.
 */
export interface WorkerRequest {
  readonly method: string;
  readonly path: string;
  readonly headers: IncomingHttpHeaders;
  /** The body as sent by the client; for Vast-style calls, the JSON text of `payload`. */
  readonly body: Buffer;
  readonly cost: number;
  readonly reqnum: number | null;
  /** Aborted when the caller closes the connection before the answer is sent (the gateway's deadline passed): work not yet begun may be skipped. */
  readonly signal: AbortSignal;
}

export interface WorkerResponse {
  readonly status?: number;
  readonly headers?: Readonly<Record<string, string>>;
  /** Objects are sent as JSON. */
  readonly body: string | Buffer | Readonly<Record<string, unknown>> | readonly unknown[];
}

export interface WorkerOptions {
  handle(req: WorkerRequest): Promise<WorkerResponse>;
  /** Measure what this worker can carry, in load units per second; default $WORKER_PERF or 1. */
  benchmark?(): Promise<number>;
  readonly port?: number;
  readonly reportAddr?: string;
  readonly masterToken?: string;
  readonly workerId?: number;
  readonly reportIntervalMs?: number;
  /** The most one call to the report address (the public key, a load report) may take; default 10 s. */
  readonly reportTimeoutMs?: number;
  /** Accept unsigned requests (local development without an engine). */
  readonly unsecured?: boolean;
  readonly env?: NodeJS.ProcessEnv;
  /** Where the worker's own lines go (its ready line); default stdout, which becomes the instance's log. */
  readonly log?: (line: string) => void;
}

export interface RunningWorker {
  readonly url: string;
  readonly server: Server;
  /** Stop taking requests, finish those in flight, send a last report. */
  close(): Promise<void>;
}

const LOAD_WINDOW_MS = 5_000;
const SEEN_REQNUMS = 10_000;

async function fetchPublicKey(reportAddr: string, timeoutMs: number): Promise<KeyObject> {
  let last: unknown;
  for (let i = 0; i < 20; i++) {
    try {
      const res = await reportCall(`${reportAddr.replace(/\/$/, '')}/pubkey/`, { timeoutMs });
      if (res.status >= 200 && res.status < 300) return createPublicKey(res.text);
      last = new Error(`GET /pubkey/ answered ${res.status}`);
    } catch (err) {
      last = err;
    }
    await new Promise((r) => setTimeout(r, 250 * (i + 1)));
  }
  throw new Error('cannot fetch the routing public key', { cause: last });
}

/**
 * A request's cost as the engine or a /route/ client sent it (the client's is not signed): a finite
 * number ≥ 0, else the default of 1, so one odd request cannot turn the reported load into NaN.
 */
function costOf(raw: unknown): number {
  if (raw === undefined || raw === null) return 1;
  const n = typeof raw === 'number' ? raw : typeof raw === 'string' && raw.trim() !== '' ? Number(raw) : NaN;
  return Number.isFinite(n) && n >= 0 ? n : 1;
}

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    req.on('data', (c: Buffer) => parts.push(c));
    req.on('end', () => resolve(Buffer.concat(parts)));
    req.on('error', reject);
  });
}

export async function startWorker(o: WorkerOptions): Promise<RunningWorker> {
  const env = o.env ?? process.env;
  const reportAddr = o.reportAddr ?? env.REPORT_ADDR ?? null;
  const token = o.masterToken ?? env.MASTER_TOKEN ?? '';
  const id = o.workerId ?? Number(env.CONTAINER_ID ?? 0);
  const port = o.port ?? Number(env.WORKER_PORT ?? env.PORT ?? 0);
  const unsecured = o.unsecured === true;
  const reportTimeoutMs = o.reportTimeoutMs ?? 10_000;
  // Node's timers take at most 2^31 - 1 ms (about 24.8 days); more, and they fire at once.
  if (!(reportTimeoutMs > 0 && reportTimeoutMs <= 2 ** 31 - 1))
    throw new Error(`reportTimeoutMs must be a number of ms from 1 to 2^31 - 1, not ${reportTimeoutMs}`);
  const key = unsecured || reportAddr === null ? null : await fetchPublicKey(reportAddr, reportTimeoutMs);
  if (!unsecured && key === null) throw new Error('REPORT_ADDR is not set: cannot verify routed requests (pass unsecured: true for local use).');

  const seen = new Set<number>();
  const sessions = new WorkerSessions();
  const arrivals: { at: number; cost: number }[] = [];
  let working = 0;
  /** num_requests_working as the last report sent it. */
  let reportedWorking = 0;
  let perf: number | null = null;
  let closing = false;

  const verified = (url: unknown, signature: unknown): boolean => {
    if (key === null) return true;
    if (typeof url !== 'string' || typeof signature !== 'string') return false;
    return verify('sha256', Buffer.from(JSON.stringify({ url }, null, 4)), key, Buffer.from(signature, 'base64'));
  };

  const answer = (res: ServerResponse, r: WorkerResponse): void => {
    const isObj = typeof r.body !== 'string' && !Buffer.isBuffer(r.body);
    const body = typeof r.body === 'string' || Buffer.isBuffer(r.body) ? r.body : r.body === undefined ? '' : JSON.stringify(r.body);
    const status = r.status ?? 200;
    // With its length, the answer is one write and a proxy can pass it on whole (no chunked framing), unless
    // the handler set one itself (any case: two would be refused) or the status carries no body.
    const ownLength = Object.keys(r.headers ?? {}).some((k) => k.toLowerCase() === 'content-length');
    const length = ownLength || status === 204 || status === 304 || status < 200 ? {} : { 'content-length': Buffer.byteLength(body) };
    res.writeHead(status, { ...(isObj ? { 'content-type': 'application/json' } : {}), ...length, ...r.headers });
    res.end(body);
  };

  /** A routed request's reqnum may be used once: a replayed hand-out is refused. */
  const replayed = (reqnum: number): boolean => {
    if (seen.has(reqnum)) return true;
    seen.add(reqnum);
    if (seen.size > SEEN_REQNUMS) seen.delete(seen.values().next().value as number);
    return false;
  };

  const sessionCall = async (route: string, raw: Buffer): Promise<SessionAnswer> => {
    let j: Record<string, unknown>;
    try {
      const parsed: unknown = JSON.parse(raw.toString('utf8'));
      if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new Error('not an object');
      j = parsed as Record<string, unknown>;
    } catch {
      return { status: 422, body: { error: 'invalid JSON' } };
    }
    if (route !== 'create') return sessions.answer(route as 'get' | 'health' | 'end', j);
    // Opening a session takes a hand-out of the engine, as any request does.
    const a = (typeof j.auth_data === 'object' && j.auth_data !== null ? j.auth_data : {}) as Record<string, unknown>;
    if (!verified(a.url, a.signature))
      return { status: 401, body: { error: 'this worker takes only requests routed by the engine (bad or missing signature)' } };
    if (typeof a.reqnum === 'number' && replayed(a.reqnum)) return { status: 409, body: { error: `request ${a.reqnum} was already served` } };
    arrivals.push({ at: Date.now(), cost: costOf(a.cost) });
    return sessions.create(j.auth_data, j.payload);
  };

  const serve = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    let body = await readBody(req);
    const h = req.headers;
    const route = /^\/session\/(create|get|health|end)\/?(\?.*)?$/.exec(req.url ?? '')?.[1];
    if (req.method === 'POST' && route !== undefined) return answer(res, await sessionCall(route, body));
    let sessionId: string | null = null;
    let cost = costOf(h['x-gantry-cost']);
    let reqnum: number | null = h['x-gantry-reqnum'] !== undefined ? Number(h['x-gantry-reqnum']) : null;
    let ok = verified(h['x-gantry-url'], h['x-gantry-signature']);
    if (h['x-gantry-signature'] === undefined && body.length > 0 && key !== null) {
      // Vast-style: the client got auth_data from /route/ and sends it with its payload.
      try {
        const j = JSON.parse(body.toString('utf8')) as { auth_data?: Record<string, unknown>; payload?: unknown; session_id?: unknown };
        const a = j.auth_data ?? {};
        ok = verified(a.url, a.signature);
        cost = costOf(a.cost);
        reqnum = typeof a.reqnum === 'number' ? a.reqnum : null;
        sessionId = typeof j.session_id === 'string' && j.session_id !== '' ? j.session_id : null;
        body = Buffer.from(JSON.stringify(j.payload ?? null));
      } catch {
        ok = false;
      }
    }
    if (!ok) return answer(res, { status: 401, body: { error: 'this worker takes only requests routed by the engine (bad or missing signature)' } });
    // In a session every request carries the hand-out that opened it: the session, not the reqnum, is what is checked.
    if (sessionId !== null) {
      if (sessions.use(sessionId) === undefined) return answer(res, { status: 410, body: { error: 'invalid session' } });
    } else if (reqnum !== null && h['x-gantry-signature'] === undefined && replayed(reqnum)) {
      return answer(res, { status: 409, body: { error: `request ${reqnum} was already served` } });
    }
    arrivals.push({ at: Date.now(), cost });
    const gone = new AbortController();
    // A request counts as work while its caller waits for the answer. One whose caller left (the gateway's
    // request timeout passed: it closes the connection) stops counting then, even if its handler never
    // ends: no answer of it will be read, and a handler that hangs must not hold its worker (and its
    // GPU, billed) against scale-down and scale-to-zero for ever.
    let counted = true;
    const release = (): void => {
      if (!counted) return;
      counted = false;
      working--;
      // The last request done: say so now, not at the next report (a drain of the endpoint waits for it).
      if (working + sessions.open === 0 && reportedWorking > 0) void report();
    };
    res.on('close', () => {
      if (res.writableFinished) return;
      gone.abort();
      release();
    });
    working++;
    try {
      answer(res, await o.handle({ method: req.method ?? 'GET', path: req.url ?? '/', headers: h, body, cost, reqnum, signal: gone.signal }));
    } catch (err) {
      answer(res, { status: 500, body: { error: err instanceof Error ? err.message : String(err) } });
    } finally {
      release();
    }
  };

  const server = createServer((req, res) => {
    serve(req, res).catch(() => res.destroy());
  });
  server.keepAliveTimeout = 30_000;
  /** Open connections, for the close: see `dropUnused`. */
  const sockets = new Set<Socket>();
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.once('close', () => sockets.delete(s));
  });
  /**
   * Close what holds a stop without carrying a request: keep-alive connections between requests, and
   * connections that never sent a byte. Node's `closeIdleConnections` takes only the first: a connection
   * opened and never used counts as awaiting its first request, and `server.close()` would wait for it
   * until the client closes it (a proxy's pool that opened one for a request it then gave up keeps it
   * for its keep-alive, past a stop's grace). One that sent part of a request is left to finish it.
   */
  const dropUnused = (): void => {
    server.closeIdleConnections();
    for (const s of sockets) if (s.bytesRead === 0) s.destroy();
  };
  await new Promise<void>((resolve) => server.listen(port, '0.0.0.0', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  const report = async (): Promise<void> => {
    if (reportAddr === null) return;
    const now = Date.now();
    while (arrivals.length > 0 && (arrivals[0] as { at: number }).at < now - LOAD_WINDOW_MS) arrivals.shift();
    const curLoad = arrivals.reduce((s, a) => s + a.cost, 0) / (LOAD_WINDOW_MS / 1000);
    reportedWorking = working + sessions.open;
    await reportCall(`${reportAddr.replace(/\/$/, '')}/worker_status/`, {
      timeoutMs: reportTimeoutMs,
      json: {
        id,
        mtoken: token,
        url,
        cur_load: curLoad,
        max_perf: perf ?? 0,
        cur_perf: Math.min(curLoad, perf ?? 0),
        num_requests_working: reportedWorking,
        loaded: perf !== null && !closing,
      },
    }).catch(() => undefined);
  };

  perf = o.benchmark !== undefined ? await o.benchmark() : Number(env.WORKER_PERF ?? 1);
  // A line in the worker's own log, as Vast's worker library prints one: `get endpt-logs` shows it.
  (o.log ?? ((line: string) => process.stdout.write(`${line}\n`)))(
    `worker ${id}: ready on port ${(server.address() as AddressInfo).port}, perf ${perf} load units/s`,
  );
  await report();
  const timer = setInterval(() => void report(), o.reportIntervalMs ?? 1_000);
  timer.unref();

  const close = async (): Promise<void> => {
    closing = true;
    clearInterval(timer);
    await sessions.closeAll();
    // Keep-alive connections that finish their last request become idle later: close them as they do.
    const sweep = setInterval(dropUnused, 50);
    // The last report and the close together: a stop waits for this process to end, not for a round trip first.
    await Promise.all([
      report(),
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        dropUnused();
      }),
    ]);
    clearInterval(sweep);
  };
  // `on`, not `once`: a second SIGTERM (some supervisors signal the group and each process) must not kill in-flight requests.
  let closing$: Promise<void> | null = null;
  process.on('SIGTERM', () => {
    closing$ ??= close().then(() => process.exit(0));
  });
  return { url, server, close };
}
