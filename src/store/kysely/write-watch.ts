import {
  AliasNode,
  ColumnNode,
  DeleteQueryNode,
  InsertQueryNode,
  TableNode,
  UpdateQueryNode,
  type QueryExecutor,
  type KyselyPlugin,
  type OperationNode,
  type PluginTransformQueryArgs,
  type PluginTransformResultArgs,
  type QueryId,
  type QueryResult,
  type RootOperationNode,
  type UnknownRow,
} from 'kysely';

/** The tables an instance listing is read from (usage figures excepted: they are measurements, see InstanceViewCache). */
const SHOWN_TABLES = new Set(['instances', 'port_allocations', 'gpu_allocations', 'instance_volumes', 'volumes']);
/** Instance columns no listing shows: the reconciler's leases and stamps, the billing meters. Writes only to these are not changes. */
const UNSHOWN_COLUMNS = new Set(['last_processed_at', 'lease_owner', 'lease_token', 'lease_expires_at', 'gpu_meter_since', 'disk_meter_since', 'deposit']);

function tableName(node: OperationNode | undefined): string | null {
  if (node === undefined) return null;
  if (TableNode.is(node)) return node.table.identifier.name;
  if (AliasNode.is(node)) return tableName(node.node);
  return null;
}

/** Whether a statement may change what an instance listing shows. */
export function changesShownInstances(node: RootOperationNode): boolean {
  if (InsertQueryNode.is(node)) return SHOWN_TABLES.has(tableName(node.into) ?? '');
  if (DeleteQueryNode.is(node)) return node.from.froms.some((f) => SHOWN_TABLES.has(tableName(f) ?? ''));
  if (!UpdateQueryNode.is(node)) return false;
  const table = tableName(node.table);
  if (table === null || !SHOWN_TABLES.has(table)) return false;
  if (table !== 'instances') return true;
  return (node.updates ?? []).some((u) => !ColumnNode.is(u.column) || !UNSHOWN_COLUMNS.has(u.column.column.name));
}

/**
 * Tells this process when a statement it ran may have changed what an instance listing shows, so a
 * cache of listings is dropped by the write itself rather than by every write path remembering to say
 * so. It hears the statement when it returns and, for a statement inside a transaction, again when the
 * transaction commits (`transact` asks): a listing read between the two on another pooled connection
 * saw the old rows, and must not stay cached. Only this process's writes are heard; other replicas'
 * reach a cache through the change feed or its age bound.
 */
export class WriteWatch implements KyselyPlugin {
  /** Statements heard so far; `transact` compares it before and after a transaction. */
  seq = 0;
  readonly #pending = new WeakSet<QueryId>();
  readonly #listeners = new Set<() => void>();

  transformQuery(args: PluginTransformQueryArgs): RootOperationNode {
    if (changesShownInstances(args.node)) this.#pending.add(args.queryId);
    return args.node;
  }

  transformResult(args: PluginTransformResultArgs): Promise<QueryResult<UnknownRow>> {
    if (this.#pending.delete(args.queryId)) {
      this.seq++;
      this.#tell();
    }
    return Promise.resolve(args.result);
  }

  /** A transaction committed; `seqBefore` is `seq` when it began. */
  committed(seqBefore: number): void {
    if (this.seq !== seqBefore) this.#tell();
  }

  listen(f: () => void): () => void {
    this.#listeners.add(f);
    return () => this.#listeners.delete(f);
  }

  #tell(): void {
    for (const f of this.#listeners) f();
  }

  static of(db: { getExecutor(): QueryExecutor }): WriteWatch | undefined {
    return db.getExecutor().plugins.find((p): p is WriteWatch => p instanceof WriteWatch);
  }
}
