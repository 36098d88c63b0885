import { chmodSync, closeSync, mkdirSync, openSync } from 'node:fs';
import { dirname } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import {
  CompiledQuery,
  sql,
  SqliteAdapter,
  SqliteDialect,
  SqliteDriver,
  type DatabaseConnection,
  type DialectAdapter,
  type Driver,
  type SqliteDatabase,
  type SqliteStatement,
  type SqlBool,
} from 'kysely';
import { GantryError } from '../../domain/errors.js';
import { LocalChangeFeed } from '../change-feed.js';
import type { StoreDialect } from './store-dialect.js';

/** Embedded SQLite: one file, one writer; WAL so readers do not block the writer. */
export function sqliteDialect(file: string, o: { readonly synchronous?: 'full' | 'normal' } = {}): StoreDialect {
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
      // By default a crash, even of the machine, must not lose a committed transaction that recorded GPUs or an
      // instance; `normal` (sqliteSynchronous) keeps commits through a crash of the process only.
      db.pragma(`synchronous = ${o.synchronous === 'normal' ? 'NORMAL' : 'FULL'}`);
      db.pragma('foreign_keys = ON');
      db.pragma('busy_timeout = 5000');
      return new ImmediateSqliteDialect({ database: withStatementCache(db, STATEMENTS_KEPT) }, () => db.inTransaction);
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
        stmt = storageFailures(unlessStorageFails(() => db.prepare(sql)));
        if (kept.size >= max) kept.delete(kept.keys().next().value as string);
      }
      kept.set(sql, stmt);
      return stmt;
    },
  };
}

/** What SQLite says of the file or its disk (not of the statement), as the operator should read it. */
const STORAGE_FAULTS: readonly [RegExp, string][] = [
  [/^SQLITE_FULL/, 'the disk that holds it is full; free space there'],
  [/^SQLITE_READONLY/, 'it is read-only now; make its folder writable again'],
  [/^SQLITE_(IOERR|CANTOPEN)/, 'its file could not be read or written; check the disk that holds it'],
];

/** `f`, with a fault of the database's file or disk thrown as DATABASE_UNAVAILABLE (503, retryable), not as a fault of the server. */
function unlessStorageFails<T>(f: () => T): T {
  try {
    return f();
  } catch (err) {
    const raw = (err as { code?: unknown } | null)?.code;
    const code = typeof raw === 'string' ? raw : '';
    const why = STORAGE_FAULTS.find(([re]) => re.test(code))?.[1];
    if (why === undefined) throw err;
    throw new GantryError(
      'DATABASE_UNAVAILABLE',
      `The database cannot be used now: ${why} (${code}). Try again once it is resolved.`,
      { sqlite: code },
      { cause: err },
    );
  }
}

/** A statement whose runs go through `unlessStorageFails` (kysely calls these four). */
function storageFailures(stmt: BetterSqlite3.Statement): SqliteStatement {
  return {
    reader: stmt.reader,
    all: (params) => unlessStorageFails(() => stmt.all(params)),
    run: (params) => unlessStorageFails(() => stmt.run(params)),
    iterate: (params) => unlessStorageFails(() => stmt.iterate(params)),
  };
}

/**
 * Transactions begin IMMEDIATE: they read, then write (claim rows, allocate GPUs), and a deferred
 * transaction that upgrades its lock fails at once with SQLITE_BUSY when another process holds the
 * write lock. Taking the write lock first makes busy_timeout queue writers instead.
 */
class ImmediateSqliteDriver extends SqliteDriver {
  readonly #inTransaction: () => boolean;
  constructor(config: ConstructorParameters<typeof SqliteDriver>[0], inTransaction: () => boolean) {
    super(config);
    this.#inTransaction = inTransaction;
  }

  override async beginTransaction(connection: DatabaseConnection): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw('begin immediate'));
  }

  /** SQLite already rolled back on some errors (a full disk): a second rollback would fail and hide the reason. */
  override async rollbackTransaction(connection: DatabaseConnection): Promise<void> {
    if (this.#inTransaction()) await super.rollbackTransaction(connection);
  }
}

/**
 * SQLite runs schema changes inside a transaction, yet kysely's adapter says it does not, so its migrator ran each
 * migration's statements one by one: a process killed between two of them (kill -9, OOM, power, during a first
 * start or an upgrade) left a migration half applied and unrecorded, and every later start failed on its first
 * statement ("table … already exists", "duplicate column name"). Pending migrations now apply, and are recorded,
 * in one transaction: all of them or none.
 */
class TransactionalDdlSqliteAdapter extends SqliteAdapter {
  override get supportsTransactionalDdl(): boolean {
    return true;
  }
}

class ImmediateSqliteDialect extends SqliteDialect {
  readonly #config: ConstructorParameters<typeof SqliteDialect>[0];
  readonly #inTransaction: () => boolean;
  constructor(config: ConstructorParameters<typeof SqliteDialect>[0], inTransaction: () => boolean) {
    super(config);
    this.#config = config;
    this.#inTransaction = inTransaction;
  }
  override createDriver(): Driver {
    return new ImmediateSqliteDriver(this.#config, this.#inTransaction);
  }
  override createAdapter(): DialectAdapter {
    return new TransactionalDdlSqliteAdapter();
  }
}
