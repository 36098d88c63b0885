import type { ColumnDefinitionBuilder, Dialect, RawBuilder, SqlBool } from 'kysely';
import type { ChangeFeed } from '../change-feed.js';

/**
 * What differs between the databases, as capabilities and small methods (the way kysely's
 * adapters do it). Control code never asks which database it runs on.
 */
export interface StoreDialect {
  readonly name: 'sqlite' | 'postgres';
  /** Build the kysely dialect (opens the pool or the file). */
  createKyselyDialect(): Dialect;
  /** How changes reach the other replicas on this database (and this process's own subscribers). */
  createChangeFeed(onError: (err: unknown) => void): ChangeFeed;
  /** Column type of auto-incrementing integer ids. */
  readonly idColumnType: 'integer' | 'serial';
  /** Extra modifiers for the id column (SQLite needs AUTOINCREMENT so ids are never reused). */
  idColumn(col: ColumnDefinitionBuilder): ColumnDefinitionBuilder;
  /** Column type of byte strings (model definition parts): both drivers read it back as a Buffer. */
  readonly blobColumnType: 'blob' | 'bytea';
  /** Whether `SELECT ... FOR UPDATE SKIP LOCKED` exists (several replicas fetching work at once). */
  readonly supportsSkipLocked: boolean;
  /**
   * `column IN (ids)` with the ids as one parameter, however many: the reconciler's claim names every
   * connected machine, and 10,000 separate parameters cost more to send and plan than the claim itself.
   */
  intIn(column: string, ids: readonly number[]): RawBuilder<SqlBool>;
  /** `expr IN (values)` for 64-bit integer values (composite keys), the values as one parameter as in `intIn`. */
  bigintIn(expr: RawBuilder<unknown>, values: readonly number[]): RawBuilder<SqlBool>;
  /**
   * A derived table `alias(columns…)` of numeric rows, for one bulk `UPDATE … FROM` instead of a statement
   * per row (the billing settler). Every value is bound as a parameter, so doubles arrive exact. Callers
   * keep rows × columns under SQLite's 32,766 parameters.
   */
  numberRows(alias: string, columns: readonly NumberColumn[], rows: readonly (readonly number[])[]): RawBuilder<unknown>;
  /** Whether an error is a primary-key or unique-constraint violation. */
  isUniqueViolation(err: unknown): boolean;
  /** Where the data lives, for logs (credentials masked). */
  readonly description: string;
  /**
   * Run `work` with no bound on how long one statement may take (the schema migrations: an index built over a
   * large table, the wait for another replica's migration lock). Absent where statements are not bounded.
   */
  withoutStatementBound?<T>(work: () => Promise<T>): Promise<T>;
}

/** A column of `numberRows`: its name and SQL type (PostgreSQL compares ids as integers so their indexes serve). */
export interface NumberColumn {
  readonly name: string;
  readonly type: 'int' | 'bigint' | 'float8';
}
