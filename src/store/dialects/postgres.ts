import { AsyncLocalStorage } from 'node:async_hooks';
import pg from 'pg';
import { PostgresDialect, sql, type SqlBool } from 'kysely';
import { PgChangeFeed } from './pg-change-feed.js';
import { PG_TIMEOUT_DEFAULTS, pgConnectionOptions, reportSparingly, retryingPool, type PgTimeouts } from './pg-retry.js';
import type { StoreDialect } from './store-dialect.js';

// int8 (epoch milliseconds, counts) would arrive as strings; our values fit in a double.
pg.types.setTypeParser(20, (v) => Number(v));

/**
 * Numbers as one array parameter in PostgreSQL's text form ('{1,2,3}'; String(n) is exact for doubles): pg's own
 * conversion escapes element by element, a cost the host sweep felt with 10,000 keys a statement.
 */
const arrayText = (values: readonly number[]): string => `{${values.join(',')}}`;

export interface PostgresOptions {
  /** Connections in the pool (default 10). */
  readonly poolSize?: number;
  /** Hears of a pooled connection that broke while no statement ran on it (the database restarted, a network cut). */
  readonly onConnectionError?: (err: unknown) => void;
  /** The store's bounds (the settings `databaseConnectTimeoutMs` and the rest); each one left out has its setting's default. */
  readonly timeouts?: Partial<PgTimeouts>;
}

/** PostgreSQL: several stateless control-plane replicas may share one database. */
export function postgresDialect(url: string, opts: PostgresOptions = {}): StoreDialect {
  const t: PgTimeouts = { ...PG_TIMEOUT_DEFAULTS, ...opts.timeouts };
  // Statements run inside `withoutStatementBound` (the migrations) have no bound; every other one has t.statementTimeoutMs.
  const unbounded = new AsyncLocalStorage<true>();
  return {
    name: 'postgres',
    description: `postgres:${url.replace(/\/\/[^@]*@/, '//***@')}`,
    idColumnType: 'serial',
    idColumn: (col) => col.primaryKey(),
    blobColumnType: 'bytea',
    supportsSkipLocked: true,
    intIn: (column, ids) => sql<SqlBool>`${sql.ref(column)} = ANY(${arrayText(ids)}::int[])`,
    bigintIn: (expr, values) => sql<SqlBool>`${expr} = ANY(${arrayText(values)}::bigint[])`,
    // One array parameter per column, however many rows, so the statement text stays the same.
    numberRows: (alias, columns, rows) =>
      sql`unnest(${sql.join(columns.map((c, i) => sql`${arrayText(rows.map((r) => r[i] as number))}::${sql.raw(c.type)}[]`))}) AS ${sql.raw(alias)}(${sql.join(columns.map((c) => sql.ref(c.name)))})`,
    createChangeFeed: (onError) => new PgChangeFeed(url, { onError, timeouts: t }),
    createKyselyDialect() {
      // The connect wait bounds opening a connection and waiting for one of the pool's to come free (pg waits for
      // ever by default): with the database's host gone silent, not refusing, every request would hang.
      const pool = new pg.Pool({ connectionString: url, max: opts.poolSize ?? 10, ...pgConnectionOptions(t) });
      // An idle connection the server closed (a restart, an administrator's kill) is an 'error' on the pool.
      // Without a listener that error would end the process; the pool drops the connection and opens another when asked.
      // Every idle connection breaks at once: the first one in t.reportEveryMs is reported.
      const lost = reportSparingly((err) => opts.onConnectionError?.(err), t.reportEveryMs);
      pool.on('error', (err) => lost.report(err));
      return new PostgresDialect({ pool: retryingPool(pool, () => (unbounded.getStore() === true ? 0 : t.statementTimeoutMs)) });
    },
    withoutStatementBound(work) {
      return unbounded.run(true, work);
    },
    isUniqueViolation(err) {
      return (err as { code?: unknown } | null)?.code === '23505';
    },
  };
}
