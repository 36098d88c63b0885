import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Kysely, sql } from 'kysely';
import { isGantryError } from '../../src/domain/errors.js';
import type { ChangeFeed } from '../../src/store/change-feed.js';
import { postgresDialect } from '../../src/store/dialects/postgres.js';
import { startTestGantry, type TestGantry } from '../helpers/gantry.js';
import { until } from '../helpers/serverless.js';
import { overTcp, TEST_STORES } from '../helpers/stores.js';
import { TcpRelay } from '../helpers/tcp-relay.js';

/**
 * The network between a replica and its PostgreSQL goes silent (packets dropped, no reset, no close) and comes
 * back (docs/operations.md "PostgreSQL goes away and comes back"). The cut is a TCP relay in front of the run's
 * PostgreSQL that, frozen, drops every byte in both directions and closes nothing; thawed, it forwards again. A
 * connection that carried a statement into the cut is then useless for ever (its answer is lost), so A works
 * again only if it gave such connections up rather than putting them back in its pool. Replica A talks through
 * the relay with its bounds shrunk through the settings; the other replica's change feed talks to PostgreSQL
 * directly.
 */
const pgStore = TEST_STORES.find((s) => s.name === 'postgres');
/** How long A waits for a statement's answer, and for a connection. */
const STATEMENT_MS = 2_000;
/** How often A's change feed checks its listening connection (the check gets as long to answer). */
const CHECK_MS = 500;
/** Far above every bound here: a call that has not answered by then hangs. */
const HUNG_MS = 20_000;

/** The promise's outcome, or a failure naming `what` when it has none within HUNG_MS. */
async function answered<T>(what: string, p: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const hung = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what}: no answer within ${HUNG_MS} ms`)), HUNG_MS)));
  try {
    return await Promise.race([p, hung]);
  } finally {
    clearTimeout(timer);
  }
}

describe('PostgreSQL behind a silent network cut', { skip: pgStore?.skip ?? 'no postgres store' }, () => {
  const ts = pgStore!;
  let relay: TcpRelay;
  let relayed: string;
  let a: TestGantry;
  let other: ChangeFeed;
  /** The machine ids A's change feed delivered (null: a resynchronisation). */
  const heard: (number | null)[] = [];

  before(async () => {
    const direct = overTcp(await ts.fresh(''));
    relay = new TcpRelay({ host: direct.hostname, port: Number(direct.port) });
    await relay.open();
    const viaRelay = new URL(direct);
    viaRelay.port = String(relay.port);
    relayed = viaRelay.toString();
    a = await startTestGantry(ts, {
      database: relayed,
      localHost: false,
      settings: {
        databaseStatementTimeoutMs: STATEMENT_MS,
        databaseConnectTimeoutMs: STATEMENT_MS,
        changeFeedCheckMs: CHECK_MS,
        changeFeedReconnectMaxMs: CHECK_MS,
      },
    });
    a.store.changes.subscribe('machine', (c) => void heard.push(c.id));
    other = ts.dialect(direct.toString()).createChangeFeed(() => undefined);
    await other.ready();
  });

  after(async () => {
    relay?.thaw();
    await a?.dispose();
    await other?.close();
    await relay?.cut();
  });

  it('answers 503 DATABASE_UNAVAILABLE during the cut, notices the listener went silent, and works again after it without a restart', async () => {
    // The feed works through the relay: another replica's change is heard. Sent again each second: on a machine
    // busy enough that A's listener missed a check (CHECK_MS) and was replaced, a notification sent meanwhile is
    // lost by design (A's subscribers resynchronise instead), which is not what this waits for.
    let sentAt = 0;
    await until(
      'the change before the cut heard',
      async () => {
        if (heard.includes(1001)) return true;
        if (Date.now() - sentAt >= 1_000) {
          sentAt = Date.now();
          other.publish('machine', 1001);
        }
        return false;
      },
      20_000,
    );
    assert.equal((await a.api('GET', '/api/v0/users/current')).status, 200);

    const frozenAt = Date.now();
    relay.freeze();
    const during = await answered('a call during the cut', a.api('GET', '/api/v0/users/current'));
    assert.equal(during.status, 503, during.text);
    assert.equal(during.body.code, 'DATABASE_UNAVAILABLE');
    assert.match(during.body.msg, /database cannot be reached/);
    const write = await answered('a write during the cut', a.api('PUT', '/api/v0/users', { fullname: 'x' }));
    assert.equal(write.status, 503, write.text);

    // Sent while A's listening connection is silent: it never reaches A, which must find out by its check.
    other.publish('machine', 1002);
    // Long enough for a check to be asked and to go unanswered (2 × CHECK_MS), with room to spare.
    await new Promise((r) => setTimeout(r, Math.max(0, frozenAt + 6 * CHECK_MS - Date.now())));
    const before = heard.length;
    relay.thaw();

    // A replaced the silent listener: its subscribers are told to resynchronise (had it kept the old one, nothing
    // would tell them that 1002 was missed).
    await until('a resynchronisation after the cut', async () => heard.slice(before).includes(null), HUNG_MS);
    await until('A answers again', async () => (await a.api('GET', '/api/v0/users/current')).status === 200, HUNG_MS);
    other.publish('machine', 1003);
    await until('a change after the cut heard', async () => heard.includes(1003), 10_000);
  });

  it('gives up a connection whose statement got no answer, so a pool of one works again after the cut; migrations are not bounded', async () => {
    const d = postgresDialect(relayed, { poolSize: 1, timeouts: { statementTimeoutMs: 1_000 } });
    const db = new Kysely<unknown>({ dialect: d.createKyselyDialect() });
    try {
      await sql`SELECT 1`.execute(db); // the pool's one connection, open
      relay.freeze();
      await assert.rejects(answered('a statement during the cut', sql`SELECT 1`.execute(db)), (err: unknown) => {
        assert.ok(isGantryError(err) && err.code === 'DATABASE_UNAVAILABLE', String(err));
        return true;
      });
      relay.thaw();
      // Put back in the pool, that connection would still wait for the lost answer and fail this too.
      const r = await answered('a statement after the cut', sql<{ one: number }>`SELECT 1 AS one`.execute(db));
      assert.deepEqual(r.rows, [{ one: 1 }]);
      // What the store runs without the bound (its migrations) may take longer.
      const slow = sql<{ one: number }>`SELECT 1 AS one FROM pg_sleep(1.5)`;
      await assert.rejects(slow.execute(db), (err: unknown) => isGantryError(err) && err.code === 'DATABASE_UNAVAILABLE');
      assert.deepEqual((await d.withoutStatementBound!(() => slow.execute(db))).rows, [{ one: 1 }]);
      // A statement past the bound on a database that is there is cancelled on the server too, not left running.
      await assert.rejects(sql`SELECT pg_sleep(30)`.execute(db), (err: unknown) => isGantryError(err) && err.code === 'DATABASE_UNAVAILABLE');
      const running = sql<{ n: number }>`SELECT count(*)::int AS n FROM pg_stat_activity WHERE query = 'SELECT pg_sleep(30)' AND state = 'active'`;
      const deadline = Date.now() + 20_000;
      while ((await running.execute(db)).rows[0]?.n !== 0) {
        assert.ok(Date.now() < deadline, 'the statement still runs on the server');
        await new Promise((r) => setTimeout(r, 100));
      }
    } finally {
      relay.thaw();
      await db.destroy();
    }
  });
});
