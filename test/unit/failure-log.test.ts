import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { FailureLog, REPEAT_LOG_MS } from '../../src/control/failure-log.js';
import { GantryError } from '../../src/domain/errors.js';
import { isConnectionError, unavailableIfLost } from '../../src/store/dialects/pg-retry.js';
import { sqliteDialect } from '../../src/store/dialects/sqlite.js';
import { KyselyStore } from '../../src/store/kysely/kysely-store.js';
import { planeOn } from '../helpers/replica.js';

/** The lines a FailureLog writes, as (level, message, fields). */
function recorder(): { lines: [string, string, Record<string, unknown>][]; log: ConstructorParameters<typeof FailureLog>[0] } {
  const lines: [string, string, Record<string, unknown>][] = [];
  const at = (level: string) => (fields: Record<string, unknown>, msg: string) => void lines.push([level, msg, fields]);
  return { lines, log: { error: at('error'), info: at('info') } as unknown as ConstructorParameters<typeof FailureLog>[0] };
}

describe('FailureLog: a loop failing while the database is gone', () => {
  it('logs the first failure, then once a minute with the count, and when it works again', () => {
    const { lines, log } = recorder();
    let now = 1_000_000;
    const f = new FailureLog(log, 'claiming instances', { now: () => now });
    // Four a second for a minute and a half, as a claim every 250 ms would.
    for (let i = 0; i < 360; i++, now += 250) f.failed(new Error('connect ECONNREFUSED'));
    assert.deepEqual(
      lines.map(([level, msg]) => [level, msg]),
      [
        ['error', 'claiming instances failed'],
        ['error', 'claiming instances failed (still)'],
      ],
    );
    assert.equal(lines[1]?.[2].failures, REPEAT_LOG_MS / 250 + 1);
    f.succeeded();
    f.succeeded();
    assert.deepEqual(lines[2]?.slice(0, 2), ['info', 'claiming instances works again']);
    assert.equal(lines.length, 3, 'a success after a success says nothing');
    f.failed(new Error('again'));
    assert.deepEqual(lines[3]?.slice(0, 2), ['error', 'claiming instances failed'], 'a new outage is logged at once');
  });

  it('waits after a failure, doubling up to its bound, and not at all once it works or is told to retry', async () => {
    const { log } = recorder();
    let now = 0;
    const f = new FailureLog(log, 'sweeping hosts', { now: () => now, minMs: 250, maxMs: 1_000 });
    assert.ok(f.due());
    const waits: number[] = [];
    for (let i = 0; i < 4; i++) {
      assert.equal(await f.run(() => Promise.reject(new Error('down')), 'fallback'), 'fallback');
      waits.push(f.waitMs());
    }
    assert.deepEqual(waits, [250, 500, 1_000, 1_000]);
    assert.equal(f.due(), false);
    f.retryNow();
    assert.ok(f.due());
    // An outcome that asked the database nothing (no host due) neither ends the failure nor extends it.
    const sweep = (hosts: number): Promise<number | null> =>
      f.run(
        () => Promise.resolve(hosts),
        null,
        (n) => n > 0,
      );
    assert.equal(await sweep(0), 0);
    assert.equal(f.failures, 4);
    assert.equal(await sweep(1), 1);
    assert.equal(f.failures, 0);
    now += 1;
    assert.equal(f.waitMs(), 0);
  });
});

describe('FailureLog and the control plane: a database outage moves when worker silence counts from', () => {
  it('tells the context of each DATABASE_UNAVAILABLE failure, of nothing else', () => {
    const { log } = recorder();
    let told = 0;
    const ctx = { clock: { now: () => 5 }, settings: { failureLogRepeatMs: 60_000 }, databaseUnavailable: () => void told++ };
    const f = new FailureLog(log, 'a serverless pass', FailureLog.timing(ctx as unknown as Parameters<typeof FailureLog.timing>[0]));
    f.failed(new GantryError('DATABASE_UNAVAILABLE', 'gone'));
    f.failed(new GantryError('DATABASE_UNAVAILABLE', 'still gone'));
    f.failed(new GantryError('HOST_UNAVAILABLE', 'a host, not the database'));
    f.failed(new Error('anything else'));
    assert.equal(told, 2);
  });

  it("moves the control plane's servingSince to the last time the database was unavailable", async () => {
    const store = new KyselyStore(sqliteDialect(':memory:'));
    await store.migrate();
    let now = 1_000;
    const cp = planeOn(store, '/nonexistent', {}, { clock: { now: () => now }, servingSince: () => 2_000 });
    try {
      assert.equal(cp.ctx.servingSince(), 2_000);
      now = 9_000;
      cp.ctx.databaseUnavailable();
      now = 12_000;
      assert.equal(cp.ctx.servingSince(), 9_000);
    } finally {
      cp.agents.close();
      await store.close();
    }
  });
});

describe('a lost PostgreSQL connection is DATABASE_UNAVAILABLE', () => {
  it('tells connection failures from refusals of a statement', () => {
    const lost = [
      Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' }),
      Object.assign(new Error('terminating connection due to administrator command'), { code: '57P01' }),
      Object.assign(new Error('the database system is starting up'), { code: '57P03' }),
      Object.assign(new Error('connection failure'), { code: '08006' }),
      new Error('Connection terminated unexpectedly'),
      new Error('timeout exceeded when trying to connect'),
      new AggregateError([Object.assign(new Error('connect ECONNREFUSED ::1:5432'), { code: 'ECONNREFUSED' })]),
    ];
    for (const err of lost) {
      assert.ok(isConnectionError(err), err.message);
      const e = unavailableIfLost(err);
      assert.ok(e instanceof GantryError && e.code === 'DATABASE_UNAVAILABLE' && e.kind === 'unavailable' && e.cause === err);
    }
    const kept = [
      Object.assign(new Error('duplicate key'), { code: '23505' }),
      Object.assign(new Error('deadlock detected'), { code: '40P01' }),
      Object.assign(new Error('password authentication failed'), { code: '28P01' }),
      new Error('something else'),
    ];
    for (const err of kept) assert.equal(unavailableIfLost(err), err, err.message);
  });
});
