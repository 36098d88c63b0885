import { chmodSync, closeSync, mkdirSync, openSync } from 'node:fs';
import { dirname } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import {
  CompiledQuery,
  sql,
  SqliteDialect,
  SqliteDriver,
  type DatabaseConnection,
  type Driver,
  type SqliteDatabase,
  type SqliteStatement,
  type SqlBool,
} from 'kysely';
import { LocalChangeFeed } from '../change-feed.js';
import type { StoreDialect } from './store-dialect.js';

/** Embedded SQLite: one file, one writer; WAL so readers do not block the writer. */
export function sqliteDialect(file: string): StoreDialect {
  return {
    name: 'sqlite',
    description: `sqlite:${file}`,
    idColumnType: 'integer',
    idColumn: (col) => col.primaryKey().autoIncrement(),
    blobColumnType: 'blob',
    supportsSkipLocked: false,
    intIn: (column, ids) => sql<SqlBool>`${sql.ref(column)} IN (SELECT value FROM json_each(${JSON.stringify(ids)}))`,
    bigintIn: (expr, values) => sql<SqlBool>`${expr} IN (SELECT value FROM json_each(${JSON.stringify(values)}))`,
    numberRows: (alias, columns, rows) =>
      sql`(SELECT ${sql.join(columns.map((c, i) => sql`${sql.ref(`column${i + 1}`)} AS ${sql.ref(c.name)}`))} FROM (VALUES ${sql.join(rows.map((r) => sql`(${sql.join(r)})`))})) AS ${sql.raw(alias)}`,
    // One server per database file: its own subscribers are everyone to tell.
    createChangeFeed: () => new LocalChangeFeed(),
    createKyselyDialect() {
      if (file !== ':memory:') {
        mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
        // Owner-only whatever the umask: SQLite gives the -wal and -shm files the database file's mode.
        closeSync(openSync(file, 'a', 0o600));
        chmodSync(file, 0o600);
      }
      const db = new BetterSqlite3(file);
      db.pragma('journal_mode = WAL');
      // A crash must not lose a committed transaction that recorded GPUs or an instance.
      db.pragma('synchronous = FULL');
      db.pragma('foreign_keys = ON');
      db.pragma('busy_timeout = 5000');
      return new ImmediateSqliteDialect({ database: withStatementCache(db, STATEMENTS_KEPT) });
    },
    isUniqueViolation(err) {
      const code = (err as { code?: unknown } | null)?.code;
      return code === 'SQLITE_CONSTRAINT_PRIMARYKEY' || code === 'SQLITE_CONSTRAINT_UNIQUE';
    },
  };
}

/** Distinct SQL texts kept prepared (an `in (?, ?, …)` list makes one per length); beyond, least recently used go. */
const STATEMENTS_KEPT = 500;

/**
 * Kysely prepares every query anew; with SQLite in the process, compiling the statement costs about
 * as much as running it. Statements are kept by SQL text and used again: kysely runs one query at a
 * time on its one connection, so a kept statement is never busy, and SQLite prepares it again by
 * itself when a migration changed the schema under it (better-sqlite3 reads the row's column names
 * at each step, so a `select *` kept across a migration still names every column).
 */
function withStatementCache(db: BetterSqlite3.Database, max: number): SqliteDatabase {
  const kept = new Map<string, SqliteStatement>();
  return {
    close: () => db.close(),
    prepare(sql) {
      let stmt = kept.get(sql);
      if (stmt !== undefined) {
        kept.delete(sql);
      } else {
        stmt = db.prepare(sql);
        if (kept.size >= max) kept.delete(kept.keys().next().value as string);
      }
      kept.set(sql, stmt);
      return stmt;
    },
  };
}

/**
 * Transactions begin IMMEDIATE: they read, then write (claim rows, allocate GPUs), and a deferred
 * transaction that upgrades its lock fails at once with SQLITE_BUSY when another process holds the
 * write lock. Taking the write lock first makes busy_timeout queue writers instead.
 */
class ImmediateSqliteDriver extends SqliteDriver {
  override async beginTransaction(connection: DatabaseConnection): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw('begin immediate'));
  }
}

class ImmediateSqliteDialect extends SqliteDialect {
  readonly #config: ConstructorParameters<typeof SqliteDialect>[0];
  constructor(config: ConstructorParameters<typeof SqliteDialect>[0]) {
    super(config);
    this.#config = config;
  }
  override createDriver(): Driver {
    return new ImmediateSqliteDriver(this.#config);
  }
}
