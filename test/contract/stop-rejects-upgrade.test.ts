import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { Kysely, Migrator } from 'kysely';
import { KyselyStore } from '../../src/store/kysely/kysely-store.js';
import { migrations } from '../../src/store/kysely/migrations.js';
import { TEST_STORES } from '../helpers/stores.js';

/**
 * Migration 0030: how a stop fails requests (`stop_rejects`) became a column of its own. An
 * Elasticsearch stop under way across the upgrade rejects, with or without finish_pending_work.
 */
for (const ts of TEST_STORES) {
  describe(`a stop's way of failing requests, after an upgrade (${ts.name})`, { skip: ts.skip }, () => {
    const dirs: string[] = [];
    after(async () => {
      for (const d of dirs) await rm(d, { recursive: true, force: true });
    });

    it('keeps rejecting for a stop that rejected queued requests, starts for an Elasticsearch drain, and only for them', async () => {
      const dir = await mkdtemp(join(tmpdir(), 'gantry-rejects-upgrade-'));
      dirs.push(dir);
      const location = await ts.fresh(dir);
      const d = ts.dialect(location);
      const db = new Kysely<any>({ dialect: d.createKyselyDialect() });
      try {
        assert.equal((await new Migrator({ db, provider: migrations(d) }).migrateTo('0029_host_calls')).error, undefined);
        const owner = await db
          .insertInto('accounts')
          .values({ username: 'old', email: 'old@localhost', is_admin: 0, balance: 0, created_at: 1 })
          .returning('id')
          .executeTakeFirstOrThrow();
        const endpoint = (name: string, rejectQueued: number, limits: string | null = null) => ({
          account_id: owner.id,
          name,
          live_name: name,
          api_key: `gek_${name}`,
          params_json: '{}',
          target: 'stopped',
          status: 'stopping',
          generation: 2,
          stop_drain: 1,
          stop_reject_queued: rejectQueued,
          limits_json: limits,
          stop_deadline: 10_000,
          stop_requested_at: 1,
          stop_phase: 'draining',
          memory_json: '{}',
          last_activity_at: 1,
          created_at: 1,
          updated_at: 1,
          last_processed_at: 1,
        });
        const es = await db.insertInto('endpoints').values(endpoint('es', 1)).returning('id').executeTakeFirstOrThrow();
        const vast = await db.insertInto('endpoints').values(endpoint('vast', 0)).returning('id').executeTakeFirstOrThrow();
        // An Elasticsearch drain (finish_pending_work): its endpoint has limits, Vast's and AI Core's none.
        const drain = await db
          .insertInto('endpoints')
          .values(endpoint('es-drain', 0, JSON.stringify({ maxConcurrentPerWorker: 1, queueCapacity: 1024 })))
          .returning('id')
          .executeTakeFirstOrThrow();
        const store = new KyselyStore(d);
        try {
          await store.migrate();
          const [a, b] = [await store.getEndpoint(es.id), await store.getEndpoint(vast.id)];
          assert.deepEqual([a?.stopRejectQueued, a?.stopRejects, a?.stopPhase], [true, true, 'draining']);
          assert.deepEqual([b?.stopRejectQueued, b?.stopRejects], [false, false]);
          const c = await store.getEndpoint(drain.id);
          assert.deepEqual([c?.stopRejectQueued, c?.stopRejects, c?.stopDrain], [false, true, true]);
        } finally {
          await store.close();
        }
      } finally {
        await db.destroy();
      }
    });
  });
}
