import type pg from 'pg';

/**
 * The change feed's listeners on one PostgreSQL, as rows of `change_feed_listeners` (migration 0031): each
 * replica's row says until which credential change it has heard (`heard`) and when its listening connection
 * last proved itself (`alive_at`, the database's clock). The row of origin '' holds the number of the last
 * credential change sent. A replica that changed a credential waits until every other row heard its number,
 * or went unproven for the trust window, after which that replica no longer uses what it remembers.
 */
export const TABLE = 'change_feed_listeners';
/** The database's clock in ms: every time compared here is the database's, never a replica's. */
const NOW_MS = '(extract(epoch from clock_timestamp()) * 1000)::bigint';

/** A database not migrated yet (the registry's table is missing): the feed works without confirmations. */
export function isMissingRegistry(err: unknown): boolean {
  return (err as { code?: unknown } | null)?.code === '42P01';
}

/**
 * Say this listener is alive and has heard up to `heard`; null: up to the last change sent (a listener that
 * just began to LISTEN and forgets everything it remembered). Returns what the row holds now.
 */
export async function prove(client: pg.Client, origin: string, heard: number | null, timeoutMs: number): Promise<number> {
  const r = await client.query<{ heard: string }>({
    text: `INSERT INTO ${TABLE} AS l (origin, heard, alive_at)
      VALUES ($1, COALESCE($2::bigint, (SELECT heard FROM ${TABLE} WHERE origin = '')), ${NOW_MS})
      ON CONFLICT (origin) DO UPDATE SET heard = GREATEST(l.heard, EXCLUDED.heard), alive_at = EXCLUDED.alive_at
      RETURNING heard`,
    values: [origin, heard],
    // query_timeout: pg's own bound, on this one statement (pg's types do not name it on a query).
    query_timeout: timeoutMs,
  } as pg.QueryConfig);
  return Number(r.rows[0]?.heard ?? 0);
}

/**
 * Number the next credential change and send it in one statement: the row lock on the counter is held
 * until the NOTIFY commits, so changes are numbered in the order every listener receives them, and a
 * listener that heard number n heard every change before it. Null: nothing was sent (no counter row).
 */
export async function sendNumbered(sender: pg.Pool, channel: string, payloadHead: string): Promise<number | null> {
  const r = await sender.query<{ heard: string }>(
    `WITH n AS (UPDATE ${TABLE} SET heard = heard + 1 WHERE origin = '' RETURNING heard)
     SELECT heard, pg_notify($1, $2 || heard || '}') FROM n`,
    [channel, payloadHead],
  );
  const n = r.rows[0]?.heard;
  return n === undefined ? null : Number(n);
}

/** How many other listeners may still use what they remember without having heard change `n`. */
export async function unconfirmed(sender: pg.Pool, origin: string, n: number, trustMs: number): Promise<number> {
  const r = await sender.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM ${TABLE} WHERE origin <> '' AND origin <> $1 AND heard < $2 AND alive_at > ${NOW_MS} - $3`,
    [origin, n, trustMs],
  );
  return r.rows[0]?.n ?? 0;
}

/** A replica that closes is waited for no more; rows of replicas gone for a day (killed, not closed) go with it. */
export async function leave(sender: pg.Pool | pg.Client, origin: string, timeoutMs: number): Promise<void> {
  await sender.query({
    text: `DELETE FROM ${TABLE} WHERE origin = $1 OR (origin <> '' AND alive_at < ${NOW_MS} - 86400000)`,
    values: [origin],
    query_timeout: timeoutMs,
  } as pg.QueryConfig);
}
