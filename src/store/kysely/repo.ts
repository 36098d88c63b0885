import type { Kysely } from 'kysely';
import type { StoreDialect } from '../dialects/store-dialect.js';
import type { Database } from './schema.js';

/** What every repository holds: the database handle and the dialect's capabilities. */
export abstract class Repo {
  protected readonly db: Kysely<Database>;
  protected readonly dialect: StoreDialect;

  constructor(db: Kysely<Database>, dialect: StoreDialect) {
    this.db = db;
    this.dialect = dialect;
  }
}

/**
 * Expose a repository's methods on the store object, bound to the repository. The store port stays
 * one flat interface for its callers while each family of queries is its own object (composition,
 * not a chain of base classes).
 */
export function exposeMethods(target: object, repo: Repo): void {
  const proto = Object.getPrototypeOf(repo) as object;
  for (const name of Object.getOwnPropertyNames(proto)) {
    const fn = (repo as unknown as Record<string, unknown>)[name];
    if (name === 'constructor' || typeof fn !== 'function') continue;
    // Two repositories (or the store and one) answering to one name would shadow each other silently.
    if (name in target) throw new Error(`store method ${name} is defined twice`);
    Object.defineProperty(target, name, { value: (fn as (...a: unknown[]) => unknown).bind(repo), enumerable: false });
  }
}
