import pg from 'pg';
import { GantryError } from '../../domain/errors.js';

/** deadlock_detected, serialization_failure: PostgreSQL's way of saying "run this again". */
const RETRYABLE = new Set(['40P01', '40001']);
/** SQLSTATE classes and codes that say the server cannot be talked to: connection exceptions, shutdowns, a server starting up, too many connections. */
const CONNECTION_STATES = /^(0800[0-4]|0800[67]|57P0[123]|53300)$/;
/** Socket errors of the connection itself (refused, reset, no route, no such host). */
const SOCKET_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN']);
/** What pg says, without a code, of a connection that broke, timed out opening, broke earlier, or did not answer a statement in time. */
const CONNECTION_MESSAGES =
  /^(Connection terminated|timeout exceeded when trying to connect|Client has encountered a connection error|Client was closed|Query read timeout)/;

/**
 * The PostgreSQL store's bounds, from the settings `databaseConnectTimeoutMs`, `databaseStatementTimeoutMs`,
 * `databaseKeepAliveMs`, `changeFeedCheckMs`, `changeFeedReconnectMaxMs`, `changeFeedTrustMs` and `failureLogRepeatMs`
 * (src/config/database-settings.ts); the defaults here are theirs (a unit test keeps them equal).
 */
export interface PgTimeouts {
  /** How long opening a connection, or waiting for a pooled one to come free, may take. */
  readonly connectTimeoutMs: number;
  /** How long one statement may wait for its answer (0: for ever); past it the connection is closed. */
  readonly statementTimeoutMs: number;
  /** Idle time of a connection before TCP keepalive probes start. */
  readonly keepAliveMs: number;
  /** How often the change feed's listening connection is checked, and how long the check may take. */
  readonly feedCheckMs: number;
  /** Longest wait between two tries to open the listening connection again. */
  readonly feedReconnectMaxMs: number;
  /**
   * How long remembered credentials are used after the listening connection last proved itself (it does
   * four times within it), and so the longest a credential change waits for a replica that does not confirm it.
   */
  readonly feedTrustMs: number;
  /** While a failure lasts, it is reported again at most this often. */
  readonly reportEveryMs: number;
}

export const PG_TIMEOUT_DEFAULTS: PgTimeouts = {
  connectTimeoutMs: 30_000,
  statementTimeoutMs: 60_000,
  keepAliveMs: 10_000,
  feedCheckMs: 10_000,
  feedReconnectMaxMs: 5_000,
  feedTrustMs: 2_000,
  reportEveryMs: 60_000,
};

/**
 * pg's options for every connection: the connect wait (pg waits for ever by default), and TCP keepalive, so the
 * operating system notices a peer that vanished without a reset even while no statement runs on the connection.
 */
export function pgConnectionOptions(t: PgTimeouts): pg.PoolConfig {
  return { connectionTimeoutMillis: t.connectTimeoutMs, keepAlive: true, keepAliveInitialDelayMillis: t.keepAliveMs };
}

/** pg's error for a statement that got no answer within its `query_timeout`. */
export function isReadTimeout(err: unknown): boolean {
  return err instanceof Error && err.message === 'Query read timeout';
}

/**
 * Give a connection up at once. After a statement timed out, pg still waits for that statement's answer on it,
 * so it is of no more use; its socket is closed without the goodbye a silent peer would never answer.
 * Whatever waits on it fails, and the pool drops it when it is released (it is ending).
 */
export function discardConnection(client: pg.ClientBase): void {
  const c = client as pg.Client;
  c.end().catch(() => undefined);
  c.connection.stream.destroy();
}

/** Whether an error says the database could not be reached (rather than that it refused the statement). */
export function isConnectionError(err: unknown): boolean {
  if (typeof err !== 'object' || err === null) return false;
  const { code, message } = err as { code?: unknown; message?: unknown };
  if (typeof code === 'string' && (CONNECTION_STATES.test(code) || SOCKET_CODES.has(code))) return true;
  if (err instanceof AggregateError) return err.errors.some(isConnectionError); // every address of a name refused
  return typeof message === 'string' && CONNECTION_MESSAGES.test(message);
}

/** What went wrong, in words: an AggregateError (every address of a name refused) has none of its own. */
export function errorReason(err: unknown): string {
  if (err instanceof AggregateError && err.message === '') return err.errors.map(errorReason).join('; ');
  if (err instanceof Error) return err.message !== '' ? err.message : ((err as { code?: string }).code ?? err.name);
  return String(err);
}

/**
 * A lost database as the engine's error: 503 DATABASE_UNAVAILABLE in every dialect's shape, not 500, and one
 * line in a loop's log. Anything else (a constraint, a deadlock for `transact` to retry) stays as it is.
 */
export function unavailableIfLost(err: unknown): unknown {
  if (!isConnectionError(err)) return err;
  const reason = errorReason(err);
  return new GantryError('DATABASE_UNAVAILABLE', `The database cannot be reached now (${reason}); try again shortly.`, {}, { cause: err });
}

/** PostgreSQL's text cannot hold U+0000 (SQLite's can): a value with one is the caller's to fix, not a fault. */
const UNSTORABLE_TEXT = new Set(['22021', '22P05']);

/**
 * PostgreSQL keeps ids (and most counts) in 32 bits, SQLite in 64: a number from the request beyond that
 * (an id of 2147483648 in a path or a body) names nothing that can exist, and is the caller's to fix.
 */
const OUT_OF_RANGE = '22003';

/** A number sent as `1e+303` or `1.5` to a whole-number column: PostgreSQL reads it as text it cannot take. */
const NOT_A_WHOLE_NUMBER = '22P02';

/** `unavailableIfLost`, and a value PostgreSQL cannot store (text with NUL, a number past 32 bits) as 400 INVALID_ARGUMENT, not 500. */
export function engineErrorOf(err: unknown): unknown {
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code === 'string' && UNSTORABLE_TEXT.has(code))
    return new GantryError(
      'INVALID_ARGUMENT',
      'A text value holds a character that cannot be stored (the NUL character, U+0000); send it without.',
      {},
      { cause: err },
    );
  if (code === OUT_OF_RANGE)
    return new GantryError(
      'INVALID_ARGUMENT',
      'A number is out of the range that can be stored (ids are whole numbers from 1 to 2147483647); no such id exists.',
      {},
      { cause: err },
    );
  // A safety net: the dialects check their numbers; one they missed is still the caller's, not a fault.
  if (code === NOT_A_WHOLE_NUMBER)
    return new GantryError('INVALID_ARGUMENT', 'A number is not a whole number, or is too large to store, where a whole number is needed.', {}, { cause: err });
  return unavailableIfLost(err);
}

/**
 * An error reporter that tells at most one error per `everyMs` (a database restart breaks every connection at
 * once, and a reconnect loop fails many times while it lasts); `reset` lets the next one through at once.
 */
export function reportSparingly(report: (err: unknown) => void, everyMs: number): { report(err: unknown): void; reset(): void } {
  let quietUntil = 0;
  return {
    report(err) {
      const now = Date.now();
      if (now < quietUntil) return;
      quietUntil = now + everyMs;
      report(err);
    },
    reset() {
      quietUntil = 0;
    },
  };
}

/** How often a statement or a transaction (kysely/tx.ts) is tried in all. */
export const RETRY_ATTEMPTS = 5;

export function isRetryable(err: unknown): boolean {
  return typeof err === 'object' && err !== null && RETRYABLE.has(String((err as { code?: unknown }).code));
}

/** A little jitter before the next try, so the two that collided do not meet again at once. */
export function retryPause(attempt: number): Promise<void> {
  return new Promise((r) => setTimeout(r, Math.random() * 10 * attempt));
}
const WRAPPED = Symbol('gantry.retrying');

type Query = (...args: unknown[]) => unknown;

/**
 * Run again a statement outside a transaction that PostgreSQL aborted as a deadlock's victim (or for a
 * serialization failure). Lock order cannot be one order everywhere in the store (see kysely/tx.ts), and
 * a single UPDATE (a loop releasing its lease, a heartbeat) can be the victim as well as a transaction;
 * transactions are run again whole by `transact`, so inside one nothing is retried here.
 */
export function retryingClient<C extends pg.PoolClient>(
  client: C,
  statementTimeoutMs: () => number = () => 0,
  cancel: (client: C) => void = () => undefined,
): C {
  const c = client as unknown as { [WRAPPED]?: true; query: Query };
  if (c[WRAPPED] === true) return client;
  c[WRAPPED] = true;
  // The connection may break while kysely holds it between statements (a transaction's, the database
  // restarting): pg then emits 'error' on the client, which ends the process unless someone listens. The next
  // statement on it fails with the reason, and the pool drops it when it is released.
  if (typeof client.on === 'function') client.on('error', () => undefined);
  const query = c.query.bind(c);
  let inTransaction = false;
  const run = async (text: string, params: unknown): Promise<unknown> => {
    const sql = text.trimStart().slice(0, 17).toLowerCase();
    const opens = sql.startsWith('begin') || sql.startsWith('start transaction');
    const ends = sql.startsWith('commit') || (sql.startsWith('rollback') && !sql.startsWith('rollback to'));
    // pg's client-side bound (query_timeout): unlike the server's statement_timeout it also ends the wait when
    // the server's host went silent. Read per statement, so migrations can run without it.
    const boundMs = statementTimeoutMs();
    for (let attempt = 1; ; attempt++) {
      try {
        const r = await (boundMs > 0 ? query({ text, values: params, query_timeout: boundMs }) : query(text, params));
        if (opens) inTransaction = true;
        if (ends) inTransaction = false;
        return r;
      } catch (err) {
        if (ends) inTransaction = false;
        if (isReadTimeout(err)) {
          // A database that is slow but there would go on running the statement for a client that left.
          cancel(client);
          discardConnection(client);
          const msg = `The database cannot be reached now (no answer within ${boundMs} ms); try again shortly.`;
          throw new GantryError('DATABASE_UNAVAILABLE', msg, {}, { cause: err });
        }
        if (inTransaction || opens || ends || !isRetryable(err) || attempt >= RETRY_ATTEMPTS) throw engineErrorOf(err);
        await retryPause(attempt);
      }
    }
  };
  // Text queries only (what kysely sends); anything else (a cursor, a stream) passes through as it was.
  c.query = (...args: unknown[]) => (typeof args[0] === 'string' && args.length <= 2 && typeof args[1] !== 'function' ? run(args[0], args[1]) : query(...args));
  return client;
}

/**
 * A pool whose clients run again a statement aborted as a deadlock's victim (see retryingClient), and whose
 * lost connections (none could be opened, one broke under a statement, one gave no answer within
 * `statementTimeoutMs()`) throw DATABASE_UNAVAILABLE.
 */
export function retryingPool(pool: pg.Pool, statementTimeoutMs: () => number = () => 0): pg.Pool {
  const connect = pool.connect.bind(pool) as (...args: unknown[]) => unknown;
  const cancel = (client: pg.PoolClient): void => cancelStatement(pool.options, client);
  // The promise form (kysely's) gets a retrying client; a callback form (pg-pool's own pool.query) passes through.
  (pool as unknown as { connect: (...args: unknown[]) => unknown }).connect = (...args: unknown[]) =>
    args.length > 0
      ? connect(...args)
      : (connect() as Promise<pg.PoolClient>).then(
          (client) => retryingClient(client, statementTimeoutMs, cancel),
          (err: unknown) => {
            throw unavailableIfLost(err);
          },
        );
  return pool;
}

/** How long a cancel request may take to be sent (after a network cut it cannot be). */
const CANCEL_WITHIN_MS = 5_000;

/**
 * Ask the server to cancel what `client` runs: PostgreSQL's own cancel request, with the backend's id and
 * secret key, on a connection of its own (what pg's `Client#cancel` sends; no pool slot, and never another
 * session's statement, as a cancel by process id alone could after the id was used again). Best effort.
 */
function cancelStatement(config: pg.PoolConfig, client: pg.PoolClient): void {
  const c = client as unknown as { processID?: unknown; secretKey?: unknown };
  if (typeof c.processID !== 'number' || typeof c.secretKey !== 'number') return;
  const { processID, secretKey } = c;
  // pg's internals, as Client#cancel uses them: a client's connection (TLS as configured) and where it goes.
  const fresh = new pg.Client(config) as unknown as {
    connection: { connect(...a: unknown[]): void; cancel(pid: number, key: number): void; on(e: string, f: () => void): void; stream?: { destroy(): void } };
    connectionParameters: { host: string; port: number };
  };
  const con = fresh.connection;
  const { host, port } = fresh.connectionParameters;
  const timer = setTimeout(() => con.stream?.destroy(), CANCEL_WITHIN_MS);
  timer.unref();
  con.on('error', () => undefined);
  con.on('end', () => clearTimeout(timer));
  con.on('connect', () => con.cancel(processID, secretKey));
  if (host.startsWith('/')) con.connect(`${host}/.s.PGSQL.${port}`);
  else con.connect(port, host);
}
