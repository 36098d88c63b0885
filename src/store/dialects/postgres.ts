import pg from 'pg';
import { PostgresDialect, sql, type SqlBool } from 'kysely';
import { PgChangeFeed } from './pg-change-feed.js';
import { retryingPool } from './pg-retry.js';
import type { StoreDialect } from './store-dialect.js';

// int8 (epoch milliseconds, counts) would arrive as strings; our values fit in a double.
pg.types.setTypeParser(20, (v) => Number(v));

/**
 * Numbers as one array parameter in PostgreSQL's text form ('{1,2,3}'; String(n) is exact for doubles): pg's own
 * conversion escapes element by element, a cost the host sweep felt with 10,000 keys a statement.
 */
const arrayText = (values: readonly number[]): string => `{${values.join(',')}}`;

/** PostgreSQL: several stateless control-plane replicas may share one database. */
export function postgresDialect(url: string, opts: { poolSize?: number } = {}): StoreDialect {
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
      return new PostgresDialect({ pool: retryingPool(new pg.Pool({ connectionString: url, max: opts.poolSize ?? 10 })) });
    },
    isUniqueViolation(err) {
      return (err as { code?: unknown } | null)?.code === '23505';
    },
  };
}
