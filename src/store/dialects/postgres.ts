import pg from 'pg';
import { PostgresDialect, sql, type SqlBool } from 'kysely';
import { PgChangeFeed } from './pg-change-feed.js';
import { reportSparingly, retryingPool } from './pg-retry.js';
import type { StoreDialect } from './store-dialect.js';

// int8 (epoch milliseconds, counts) would arrive as strings; our values fit in a double.
pg.types.setTypeParser(20, (v) => Number(v));

/**
 * Numbers as one array parameter in PostgreSQL's text form ('{1,2,3}'; String(n) is exact for doubles): pg's own
 * conversion escapes element by element, a cost the host sweep felt with 10,000 keys a statement.
 */
const arrayText = (values: readonly number[]): string => `{${values.join(',')}}`;

/**
 * How long a statement may wait for a connection: one being opened, or one of the pool's to come free (pg-pool
 * bounds both with this). pg waits for ever by default, so with the database's host gone silent (not
 * refusing: a network cut) every request would hang; past this it fails and answers 503. Long enough that a
 * busy pool under load is only slow.
 */
const CONNECT_TIMEOUT_MS = 30_000;

export interface PostgresOptions {
  /** Connections in the pool (default 10). */
  readonly poolSize?: number;
  /** Hears of a pooled connection that broke while no statement ran on it (the database restarted, a network cut). */
  readonly onConnectionError?: (err: unknown) => void;
}

/** PostgreSQL: several stateless control-plane replicas may share one database. */
export function postgresDialect(url: string, opts: PostgresOptions = {}): StoreDialect {
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
    createChangeFeed: (onError) => new PgChangeFeed(url, { onError }),
    createKyselyDialect() {
      const pool = new pg.Pool({ connectionString: url, max: opts.poolSize ?? 10, connectionTimeoutMillis: CONNECT_TIMEOUT_MS });
      // An idle connection the server closed (a restart, an administrator's kill) is an 'error' on the pool.
      // Without a listener that error would end the process; the pool drops the connection and opens another when asked.
      // Every idle connection breaks at once: the first one in a minute is reported.
      const lost = reportSparingly((err) => opts.onConnectionError?.(err), 60_000);
      pool.on('error', (err) => lost.report(err));
      return new PostgresDialect({ pool: retryingPool(pool) });
    },
    isUniqueViolation(err) {
      return (err as { code?: unknown } | null)?.code === '23505';
    },
  };
}
