import { chmodSync, closeSync, mkdirSync, openSync } from 'node:fs';
import { dirname } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { CompiledQuery, SqliteDialect, SqliteDriver, type DatabaseConnection, type Driver } from 'kysely';
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
      return new ImmediateSqliteDialect({ database: db });
    },
    isUniqueViolation(err) {
      const code = (err as { code?: unknown } | null)?.code;
      return code === 'SQLITE_CONSTRAINT_PRIMARYKEY' || code === 'SQLITE_CONSTRAINT_UNIQUE';
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
