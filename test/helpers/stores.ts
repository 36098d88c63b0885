import { it } from 'node:test';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { postgresDialect } from '../../src/store/dialects/postgres.js';
import { sqliteDialect } from '../../src/store/dialects/sqlite.js';
import type { StoreDialect } from '../../src/store/dialects/store-dialect.js';

/** The databases a run covers: GANTRY_TEST_STORES=sqlite,postgres (the test script starts PostgreSQL). */
export interface TestStore {
  readonly name: 'sqlite' | 'postgres';
  /** A reason to skip, or false. */
  readonly skip: string | false;
  /** A fresh, empty database: a file path or a postgres:// URL of a new database. */
  fresh(dir: string): Promise<string>;
  dialect(location: string): StoreDialect;
}

const wanted = (process.env.GANTRY_TEST_STORES ?? 'sqlite,postgres').split(',').map((s) => s.trim());
const pgAdminUrl = process.env.GANTRY_TEST_PG_URL;

export const TEST_STORES: readonly TestStore[] = [
  {
    name: 'sqlite',
    skip: wanted.includes('sqlite') ? false : 'sqlite not in GANTRY_TEST_STORES',
    fresh: (dir) => Promise.resolve(`${dir}/gantry-test-${randomBytes(4).toString('hex')}.db`),
    dialect: (location) => sqliteDialect(location, { synchronous: process.env.GANTRY_SQLITE_SYNCHRONOUS === 'normal' ? 'normal' : 'full' }),
  },
  {
    name: 'postgres',
    skip: !wanted.includes('postgres')
      ? 'postgres not in GANTRY_TEST_STORES'
      : pgAdminUrl === undefined
        ? 'no GANTRY_TEST_PG_URL: run through `npm test`, which starts PostgreSQL'
        : false,
    async fresh() {
      // One database per test file (and per test that asks): isolation by name.
      const name = `t_${randomBytes(6).toString('hex')}`;
      const c = new pg.Client({ connectionString: pgAdminUrl });
      await c.connect();
      await c.query(`CREATE DATABASE ${name}`);
      await c.end();
      // The database name is the path's last part, before any query (`?host=<socket folder>`).
      const [base, query] = (pgAdminUrl as string).split(/(?=\?)/, 2) as [string, string | undefined];
      return `${base.replace(/\/[^/]*$/, `/${name}`)}${query ?? ''}`;
    },
    dialect: (location) => postgresDialect(location, { poolSize: 5 }),
  },
];

/**
 * One database, for tests whose subject never reaches the store in a store-specific way (the CLI's verbs,
 * the HTTP edge, the authorization table, the process sandbox): what the store does is covered on both
 * databases by the API and contract tests, so running these twice only doubles their time.
 */
export const ONE_STORE: readonly TestStore[] = [TEST_STORES.find((s) => s.skip === false) ?? (TEST_STORES[0] as TestStore)];

/**
 * One database, PostgreSQL where the run has it: the dialect suites that run once are split between the two
 * databases (ONE_STORE and this), so each database still sees every dialect end to end.
 */
export const ONE_STORE_PG: readonly TestStore[] = [TEST_STORES.find((s) => s.name === 'postgres' && s.skip === false) ?? (ONE_STORE[0] as TestStore)];

/**
 * `it` on one store only, for the tests of a suite that runs on each store whose subject is not the store
 * (on the other, a skipped test that says where it ran): `const once = onlyOn(ts, ONE_STORE_PG)`.
 */
export function onlyOn(ts: TestStore, one: readonly TestStore[]): (name: string, fn: () => Promise<void>) => void {
  const here = one[0];
  return (name, fn) => {
    void (ts === here ? it(name, fn) : it(name, { skip: `runs on ${here?.name ?? 'one store'} only` }, fn));
  };
}

/**
 * A PostgreSQL URL of the test run reaching the server over TCP: the run gives its Unix socket (`?host=`),
 * and a test that puts a relay between Gantry and the database needs the address behind it.
 */
export function overTcp(url: string): URL {
  const u = new URL(url);
  u.searchParams.delete('host');
  return u;
}
