import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Kysely, sql, type Transaction } from 'kysely';
import type pg from 'pg';
import { retryingClient } from '../../src/store/dialects/pg-retry.js';
import { transact } from '../../src/store/kysely/tx.js';
import { TEST_STORES } from '../helpers/stores.js';

/**
 * Two transactions that lock two rows in opposite orders: PostgreSQL aborts one (deadlock_detected) and
 * `transact` runs its body again, so both commit. (The store's writes cannot share one lock order: a status
 * write locks the instance then its machine, a machine delete the machine then its instances.)
 */
interface Db {
  pair: { id: number; v: number };
}
const pgStore = TEST_STORES.find((s) => s.name === 'postgres') ?? TEST_STORES[0];

describe('store transactions run again after a deadlock (postgres)', { skip: pgStore?.name === 'postgres' ? pgStore.skip : 'needs PostgreSQL' }, () => {
  let db: Kysely<Db>;
  before(async () => {
    const url = await pgStore!.fresh('');
    db = new Kysely<Db>({ dialect: pgStore!.dialect(url).createKyselyDialect() });
    await db.schema
      .createTable('pair')
      .addColumn('id', 'integer', (c) => c.primaryKey())
      .addColumn('v', 'integer')
      .execute();
    await db
      .insertInto('pair')
      .values([
        { id: 1, v: 0 },
        { id: 2, v: 0 },
      ])
      .execute();
  });
  after(() => db.destroy());

  /** Locks `first`, waits until the other transaction locked its row, then locks `second`. */
  function crossing(first: number, second: number, locked: () => void, otherLocked: Promise<void>, attempts: { n: number }) {
    return async (trx: Transaction<Db>): Promise<void> => {
      attempts.n++;
      await sql`set local deadlock_timeout = '50ms'`.execute(trx);
      await trx
        .updateTable('pair')
        .set((eb) => ({ v: eb('v', '+', 1) }))
        .where('id', '=', first)
        .execute();
      locked();
      await otherLocked;
      await trx
        .updateTable('pair')
        .set((eb) => ({ v: eb('v', '+', 1) }))
        .where('id', '=', second)
        .execute();
    };
  }
  function race(run: (body: (trx: Transaction<Db>) => Promise<void>) => Promise<void>) {
    let aLocked!: () => void;
    let bLocked!: () => void;
    const aReady = new Promise<void>((r) => (aLocked = r));
    const bReady = new Promise<void>((r) => (bLocked = r));
    const a = { n: 0 };
    const b = { n: 0 };
    const done = Promise.allSettled([run(crossing(1, 2, aLocked, bReady, a)), run(crossing(2, 1, bLocked, aReady, b))]);
    return done.then((results) => ({ results, attempts: a.n + b.n }));
  }

  it('without a retry, PostgreSQL aborts one of the two (the test does provoke a deadlock)', async () => {
    const { results } = await race((body) => db.transaction().execute(body));
    const failed = results.filter((r) => r.status === 'rejected');
    assert.equal(failed.length, 1);
    assert.equal(((failed[0] as PromiseRejectedResult).reason as { code: string }).code, '40P01');
  });

  it('with transact, both commit: the aborted one ran once more', async () => {
    const before = await db.selectFrom('pair').select(['id', 'v']).orderBy('id').execute();
    const { results, attempts } = await race((body) => transact(db, body));
    assert.deepEqual(
      results.map((r) => r.status),
      ['fulfilled', 'fulfilled'],
    );
    // At least one run again; a loaded machine can see PostgreSQL pick the retry as a victim once more, so the
    // count is not exact. What must hold exactly is below: each body's writes committed once.
    assert.ok(attempts >= 3, `attempts: ${attempts}`);
    const now = await db.selectFrom('pair').select(['id', 'v']).orderBy('id').execute();
    assert.deepEqual(
      now.map((r, i) => r.v - (before[i]?.v ?? 0)),
      [2, 2],
      'each row written once by each transaction, none twice',
    );
  });
});

/** A stand-in for one pooled connection: its next query fails with `code`, once. */
function failingOnce(code: string): { client: pg.PoolClient; sent: string[] } {
  const sent: string[] = [];
  let fail: string | null = null;
  const client = {
    query: (text: string) => {
      sent.push(text);
      if (text === 'arm') fail = code;
      else if (fail !== null && !text.startsWith('begin') && !text.startsWith('commit') && !text.startsWith('rollback')) {
        const err = Object.assign(new Error('aborted'), { code: fail });
        fail = null;
        return Promise.reject(err);
      }
      return Promise.resolve({ rows: [] });
    },
  } as unknown as pg.PoolClient;
  return { client: retryingClient(client), sent };
}

describe('a statement outside a transaction runs again when PostgreSQL picks it as a deadlock victim', () => {
  it('runs a lone statement again, but not one inside a transaction (the transaction is run again whole)', async () => {
    const lone = failingOnce('40P01');
    await lone.client.query('arm');
    await lone.client.query('update x set v = 1');
    assert.deepEqual(lone.sent, ['arm', 'update x set v = 1', 'update x set v = 1']);

    const inTx = failingOnce('40P01');
    await inTx.client.query('begin');
    await inTx.client.query('arm');
    await assert.rejects(inTx.client.query('update x set v = 1'), { code: '40P01' });
    await inTx.client.query('rollback');
    assert.deepEqual(inTx.sent, ['begin', 'arm', 'update x set v = 1', 'rollback']);

    const other = failingOnce('23505');
    await other.client.query('arm');
    await assert.rejects(other.client.query('insert into x values (1)'), { code: '23505' });
  });
});
