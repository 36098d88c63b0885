import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import type { Change, ChangeFeed, ChangeTopic } from '../../src/store/change-feed.js';
import { PgChangeFeed } from '../../src/store/dialects/pg-change-feed.js';
import { until } from '../helpers/serverless.js';
import { TEST_STORES } from '../helpers/stores.js';

/** Collects what a feed delivers on one topic; `next` waits (bounded) for the next matching change. */
function recorder(feed: ChangeFeed, topic: ChangeTopic) {
  const seen: Change[] = [];
  const waiters: (() => void)[] = [];
  feed.subscribe(topic, (c) => {
    seen.push(c);
    for (const w of waiters.splice(0)) w();
  });
  const next = async (pred: (c: Change) => boolean, what: string): Promise<Change> => {
    const end = Date.now() + 10_000;
    for (;;) {
      const hit = seen.find(pred);
      if (hit !== undefined) return hit;
      if (Date.now() > end) throw new Error(`no ${what} within 10 s; seen ${JSON.stringify(seen)}`);
      await new Promise<void>((r) => {
        waiters.push(r);
        setTimeout(r, 200).unref();
      });
    }
  };
  return { seen, next };
}

/** The change feed port, on every store dialect: what one part of a replica publishes, the others hear. */
for (const ts of TEST_STORES) {
  describe(`change feed contract (${ts.name})`, { skip: ts.skip }, () => {
    let dir: string;
    let location: string;
    const feeds: ChangeFeed[] = [];
    const open = (): ChangeFeed => {
      const f = ts.dialect(location).createChangeFeed(() => undefined);
      feeds.push(f);
      return f;
    };

    before(async () => {
      dir = mkdtempSync(join(tmpdir(), 'gantry-feed-'));
      location = await ts.fresh(dir);
    });
    after(async () => {
      await Promise.all(feeds.map((f) => f.close()));
      rmSync(dir, { recursive: true, force: true });
    });

    it("delivers to this process's subscribers of the topic, after the publisher's call returns", async () => {
      const feed = open();
      await feed.ready();
      const inst = recorder(feed, 'instance');
      const machines = recorder(feed, 'machine');
      feed.publish('instance', 7);
      assert.equal(inst.seen.length, 0, 'never inside the publisher');
      assert.deepEqual(await inst.next((c) => c.id === 7, 'instance 7'), { topic: 'instance', id: 7 });
      assert.deepEqual(machines.seen, [], 'other topics hear nothing');
    });

    it('stops delivering to a listener that unsubscribed; a listener that throws does not stop the others', async () => {
      const feed = open();
      let calls = 0;
      const stop = feed.subscribe('endpoint', () => calls++);
      feed.subscribe('endpoint', () => {
        throw new Error('a broken listener');
      });
      const rec = recorder(feed, 'endpoint');
      feed.publish('endpoint', 1);
      await rec.next((c) => c.id === 1, 'endpoint 1');
      stop();
      feed.publish('endpoint', 2);
      await rec.next((c) => c.id === 2, 'endpoint 2');
      assert.equal(calls, 1);
    });

    it('reaches the other replicas on the same database, once each, in order', { skip: ts.name === 'sqlite' && 'one server per SQLite file' }, async () => {
      const a = open();
      const b = open();
      await Promise.all([a.ready(), b.ready()]);
      const atB = recorder(b, 'credential');
      const atA = recorder(a, 'credential');
      for (let i = 1; i <= 500; i++) a.publish('credential', i); // more than one NOTIFY holds
      await atB.next((c) => c.id === 500, 'the last change at the other replica');
      assert.deepEqual(
        atB.seen.map((c) => c.id),
        Array.from({ length: 500 }, (_, i) => i + 1),
      );
      await atA.next((c) => c.id === 500, 'the last change at the publisher');
      assert.equal(atA.seen.length, 500, "the publisher's own notifications are not delivered twice");
    });

    it(
      'after its listening connection broke: listens again and tells subscribers to resynchronise',
      { skip: ts.name === 'sqlite' && 'no connection to lose' },
      async () => {
        const a = open();
        const b = open();
        await Promise.all([a.ready(), b.ready()]);
        const atB = recorder(b, 'machine');
        const admin = new pg.Client({ connectionString: location });
        await admin.connect();
        try {
          // Every listening session (named by its application_name; it also writes that it is alive): b's among them.
          await admin.query(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name LIKE 'gantry-feed %' AND pid <> pg_backend_pid()`);
        } finally {
          await admin.end();
        }
        await atB.next((c) => c.id === null, 'a resynchronisation');
        await Promise.all([a.ready(), b.ready()]);
        a.publish('machine', 42);
        await atB.next((c) => c.id === 42, 'a change published after the break');
      },
    );

    it(
      'closed while its listening connection registers: close answers, and the connection goes',
      { skip: ts.name === 'sqlite' && 'no connection to leave' },
      async () => {
        // A database of its own whose listener registry is locked: the new listener's registration waits on it.
        const db = await ts.fresh(dir);
        const admin = new pg.Client({ connectionString: db });
        const holder = new pg.Client({ connectionString: db });
        await Promise.all([admin.connect(), holder.connect()]);
        const sessions = async (extra = ''): Promise<number> =>
          (
            await admin.query<{ n: number }>(
              `SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name LIKE 'gantry-feed %' AND datname = current_database() ${extra}`,
            )
          ).rows[0]!.n;
        try {
          await admin.query('CREATE TABLE change_feed_listeners (origin text PRIMARY KEY, heard bigint NOT NULL, alive_at bigint NOT NULL)');
          await admin.query("INSERT INTO change_feed_listeners VALUES ('', 0, 0)");
          await holder.query('BEGIN');
          await holder.query('LOCK TABLE change_feed_listeners IN EXCLUSIVE MODE');
          const feed = ts.dialect(db).createChangeFeed(() => undefined);
          await until('the listener waiting to register', async () => (await sessions("AND wait_event_type = 'Lock'")) === 1, 10_000);
          // Before: close answered, and the registration went on once the lock was gone, leaving a listener
          // nobody would end (its connection held the process open: a test file that never exited).
          await feed.close();
          await holder.query('COMMIT');
          await until('no listening connection left', async () => (await sessions()) === 0, 10_000);
          assert.equal(feed.current(), false);
        } finally {
          await holder.query('ROLLBACK').catch(() => undefined);
          // Whatever happened, nothing of this test keeps its process alive.
          await admin.query(
            `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name LIKE 'gantry-feed %' AND datname = current_database()`,
          );
          await Promise.all([admin.end(), holder.end()]);
        }
      },
    );

    it(
      'closed while it connects to a database that does not answer: close and ready() both answer',
      { skip: ts.name === 'sqlite' && 'no connection' },
      async () => {
        const silent = createServer((s) => s.on('error', () => undefined));
        await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
        try {
          const { port } = silent.address() as { port: number };
          const feed = new PgChangeFeed(`postgres://u:p@127.0.0.1:${port}/db`);
          await new Promise((r) => setTimeout(r, 100));
          await feed.close();
          const settled = await Promise.race([feed.ready().then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), 5000))]);
          assert.equal(settled, true, 'ready() settles once closed (an end() of a connecting client left it pending)');
        } finally {
          silent.close();
        }
      },
    );
  });
}
