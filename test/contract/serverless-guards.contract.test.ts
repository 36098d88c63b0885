import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { GantryError } from '../../src/domain/errors.js';
import { DEFAULT_ENDPOINT_PARAMS } from '../../src/domain/serverless/params.js';
import type { EndpointRecord, WorkergroupRecord } from '../../src/domain/serverless/records.js';
import type { NewWorkergroup } from '../../src/store/serverless-store.js';
import type { Store } from '../../src/store/store.js';
import { twoReplicas, type TwoReplicas } from '../helpers/replicas.js';
import { TEST_STORES } from '../helpers/stores.js';

type Settled<T> = { ok: true; value: T } | { ok: false; error: unknown };

const code = (e: unknown): string => (e instanceof GantryError ? e.code : String(e));
const settle = <T>(p: Promise<T>): Promise<Settled<T>> =>
  p.then(
    (value) => ({ ok: true as const, value }),
    (error: unknown) => ({ ok: false as const, error }),
  );
const refusedWith = (r: Settled<unknown>, c: string): void => {
  assert.equal(r.ok ? 'written' : code(r.error), c, r.ok ? 'written' : String(r.error));
};

/**
 * The serverless store's rules that name other rows, written where they cannot race: an alias is written only while
 * its target is there under that name (a rename of the target at once is either first, and the alias is refused, or
 * waits for it and is refused), and a deployment's endpoint holds only the workergroups its deployment makes (a
 * workergroup created on it or moved onto or off it at once, on another replica, is refused, or refuses the
 * deployment). On PostgreSQL each interleaving is forced: one side's writes are held uncommitted on a connection of
 * the test's own while the store's call runs into them.
 */
for (const ts of TEST_STORES) {
  describe(`serverless store guards: ${ts.name}`, { skip: ts.skip }, () => {
    let location: string;
    let store: Store;
    let other: Store;
    let accountId: number;
    let n = 0;
    const onPostgres = ts.name === 'postgres' ? {} : { skip: 'SQLite runs one writer at a time: no write of another can come between a check and its write' };

    let replicas: TwoReplicas;
    before(async () => {
      replicas = await twoReplicas(ts, 'sl-guards');
      ({ store, other, accountId: accountId } = replicas);
      location = replicas.location;
    });
    after(() => replicas?.close());

    const endpoint = (name: string, aliasOf: string | null = null, s: Store = store): Promise<EndpointRecord> =>
      s.createEndpoint({ accountId, name, apiKey: `gek_${name}_${++n}`, params: DEFAULT_ENDPOINT_PARAMS, aliasOf, now: 10 });
    const rename = (ep: EndpointRecord, to: string, s: Store = store): Promise<boolean> =>
      s.renameEndpoint({ id: ep.id, accountId, from: ep.name, to, isAlias: ep.aliasOf !== null, now: 20 });
    const deleted = async (ep: EndpointRecord): Promise<void> => {
      assert.ok(await store.writeEndpointIntent(ep.id, ep.generation, { target: 'deleted', status: 'deleted', statusMsg: null, stop: null, now: 15 }));
    };
    const group = (endpointId: number, o: Partial<NewWorkergroup> = {}): Promise<WorkergroupRecord> =>
      store.createWorkergroup({
        accountId,
        endpointId,
        template: { image: 'i', env: {}, ports: [], onstart: null, args: null, diskGb: 8 },
        placement: { conditions: [] },
        launchArgs: null,
        gpuRamGb: null,
        testWorkers: 0,
        now: 1,
        ...o,
      });
    const deployment = (ep: EndpointRecord, wg: WorkergroupRecord) =>
      store.createDeployment({ accountId, name: ep.name, tag: 'default', endpointId: ep.id, workergroupId: wg.id, now: 1 });
    const deploy = async (name: string) => {
      const ep = await endpoint(name);
      const wg = await group(ep.id);
      return { ep, wg, d: await deployment(ep, wg) };
    };

    /**
     * PostgreSQL: `statements` in a transaction of a connection of the test's own; `call` runs meanwhile, and the
     * transaction commits once a statement waits for a lock (the call's, nothing else runs here) or the call ended.
     */
    const whileHeld = async <T>(statements: readonly (readonly [string, readonly unknown[]])[], call: () => Promise<T>): Promise<Settled<T>> => {
      const c = new pg.Client({ connectionString: location });
      await c.connect();
      try {
        await c.query('BEGIN');
        for (const [text, values] of statements) await c.query(text, [...values]);
        let ended = false;
        const result = settle(call()).finally(() => {
          ended = true;
        });
        const deadline = Date.now() + 10_000;
        for (;;) {
          const waiting = await c.query<{ n: number }>(
            `SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock' AND pid <> pg_backend_pid()`,
          );
          if (ended || (waiting.rows[0]?.n ?? 0) > 0) break;
          assert.ok(Date.now() < deadline, 'the call neither waited for the held rows nor ended');
          await sleep(20);
        }
        await c.query('COMMIT');
        return await result;
      } finally {
        await c.end();
      }
    };

    it('an alias is written only while its target is an endpoint of the account, itself no alias, and no alias routes to its name', async () => {
      await endpoint('g-target');
      const alias = await endpoint('g-alias', 'g-target');
      assert.equal(alias.aliasOf, 'g-target');
      refusedWith(await settle(endpoint('g-a1', 'g-none')), 'ENDPOINT_NOT_FOUND');
      refusedWith(await settle(endpoint('g-a2', 'g-alias')), 'INVALID_ARGUMENT');
      // An alias whose target was deleted routes to that name: no alias takes it.
      const gone = await endpoint('g-gone');
      await endpoint('g-dangling', 'g-gone');
      await deleted(gone);
      refusedWith(await settle(endpoint('g-gone', 'g-target')), 'INVALID_ARGUMENT');
      for (const name of ['g-a1', 'g-a2', 'g-gone']) assert.equal(await store.findEndpointByName(accountId, name), undefined, `${name} was written`);
      // A plain endpoint takes it: the dangling alias routes to it from then on.
      await endpoint('g-gone');
    });

    it('an alias create and a rename of its target, one after the other: the second is refused', async () => {
      const renamed = await endpoint('o-first');
      assert.equal(await rename(renamed, 'o-first-2'), true);
      refusedWith(await settle(endpoint('o-late', 'o-first', other)), 'ENDPOINT_NOT_FOUND');
      const target = await endpoint('o-second');
      await endpoint('o-early', 'o-second', other);
      assert.equal(await rename(target, 'o-second-2'), false);
      assert.equal((await store.findEndpointByName(accountId, 'o-second'))?.id, target.id);
    });

    it('an alias create and a rename of its target at once, on two replicas: exactly one is written, never an alias of a name left', async () => {
      // SQLite serves one process: two handles would wait on each other's write lock on the one thread, so there the race runs on one handle.
      const second = ts.name === 'sqlite' ? store : other;
      for (let i = 0; i < 8; i++) {
        const target = await endpoint(`race${i}`);
        const [alias, renamed] = await Promise.all([settle(endpoint(`race${i}-alias`, `race${i}`)), settle(rename(target, `race${i}-moved`, second))]);
        const wrote = [alias.ok, renamed.ok && renamed.value];
        assert.equal(wrote.filter(Boolean).length, 1, JSON.stringify({ alias, renamed }));
        if (!alias.ok) refusedWith(alias, 'ENDPOINT_NOT_FOUND');
        const routesTo = (await store.findEndpointByName(accountId, `race${i}-alias`))?.aliasOf;
        if (routesTo) assert.equal((await store.findEndpointByName(accountId, routesTo))?.id, target.id, 'the alias names its target');
      }
    });

    it('a rename under way when an alias create reads its target: the alias waits for it and is refused', onPostgres, async () => {
      const target = await endpoint('i-target');
      const held = await whileHeld([['UPDATE endpoints SET name = $1, live_name = $1 WHERE id = $2', ['i-target-2', target.id]]], () =>
        endpoint('i-alias', 'i-target'),
      );
      refusedWith(held, 'ENDPOINT_NOT_FOUND');
      assert.equal(await store.findEndpointByName(accountId, 'i-alias'), undefined);
    });

    it(
      'an alias create under way (its target held, the alias written) when the target is renamed: the rename waits for it and is refused',
      onPostgres,
      async () => {
        const target = await endpoint('j-target');
        const held = await whileHeld(
          [
            ['SELECT id FROM endpoints WHERE id = $1 FOR SHARE', [target.id]],
            [
              `INSERT INTO endpoints (account_id, name, live_name, api_key, params_json, alias_of, target, status, generation, memory_json,
               last_activity_at, created_at, updated_at, last_processed_at)
             SELECT account_id, 'j-alias', 'j-alias', 'gek_j_alias', params_json, name, target, status, 1, memory_json, 0, 0, 0, 0 FROM endpoints WHERE id = $1`,
              [target.id],
            ],
          ],
          () => rename(target, 'j-target-2'),
        );
        assert.deepEqual(held, { ok: true, value: false });
        assert.equal((await store.findEndpointByName(accountId, 'j-target'))?.id, target.id);
      },
    );

    it("a deployment's endpoint takes no workergroup of its own, and its deployment's does not move away; a refused write writes nothing", async () => {
      const { ep, wg, d } = await deploy('w-dep');
      const plain = await endpoint('w-plain');
      const stray = await group(plain.id);
      refusedWith(await settle(group(ep.id, { refuseOnDeployment: true })), 'DEPLOYMENT_MANAGED');
      // A deployment's own (a change of configuration adds one beside the serving one) is not refused.
      const next = await group(ep.id, { revision: 'c2' });
      // Deleted by its deployment's own steps, never through the workergroup API's delete.
      refusedWith(await settle(store.deleteWorkergroup(next.id, 2, { refuseOnDeployment: true })), 'DEPLOYMENT_MANAGED');
      assert.equal((await store.getWorkergroup(next.id))?.id, next.id, 'a refused delete deletes nothing');
      await store.deleteWorkergroup(next.id, 2);
      assert.equal(await store.getWorkergroup(next.id), undefined);
      await store.deleteWorkergroup(stray.id + 1000, 2, { refuseOnDeployment: true });
      for (const maxPerEndpoint of [0, 5]) {
        refusedWith(await settle(store.updateWorkergroup(wg.id, { endpointId: plain.id, testWorkers: 7, maxPerEndpoint })), 'DEPLOYMENT_MANAGED');
        refusedWith(await settle(store.updateWorkergroup(stray.id, { endpointId: ep.id, testWorkers: 7, maxPerEndpoint })), 'DEPLOYMENT_MANAGED');
      }
      assert.deepEqual(
        (await store.listWorkergroups({ accountId })).filter((g) => g.id === wg.id || g.id === stray.id).map((g) => [g.id, g.endpointId, g.testWorkers]),
        [
          [wg.id, ep.id, 0],
          [stray.id, plain.id, 0],
        ],
      );
      // Its own endpoint named again is no move; between plain endpoints a move is written.
      await store.updateWorkergroup(wg.id, { endpointId: ep.id, testWorkers: 2 });
      assert.equal((await store.getWorkergroup(wg.id))?.testWorkers, 2);
      const plain2 = await endpoint('w-plain-2');
      await store.updateWorkergroup(stray.id, { endpointId: plain2.id, maxPerEndpoint: 5 });
      assert.equal((await store.getWorkergroup(stray.id))?.endpointId, plain2.id);
      // The deployment gone, its endpoint is one like any other.
      await store.deleteDeployment(d.id, 3);
      await store.updateWorkergroup(stray.id, { endpointId: ep.id });
      assert.equal((await store.getWorkergroup(stray.id))?.endpointId, ep.id);
    });

    it("a deployment is written only while its workergroup is its endpoint's only live one", async () => {
      const crowded = await endpoint('x-crowded');
      const own = await group(crowded.id);
      await group(crowded.id);
      refusedWith(await settle(deployment(crowded, own)), 'DEPLOYMENT_MANAGED');
      const left = await endpoint('x-left');
      const moved = await group(left.id);
      await store.updateWorkergroup(moved.id, { endpointId: crowded.id });
      refusedWith(await settle(deployment(left, moved)), 'DEPLOYMENT_MANAGED');
      const names = (await store.listDeployments(accountId)).map((x) => x.name);
      assert.ok(!names.includes('x-crowded') && !names.includes('x-left'), names.join());
    });

    it('a deployment being written (its endpoint held) when a workergroup moves onto it: the move waits for it and is refused', onPostgres, async () => {
      const ep = await endpoint('y-dep');
      const own = await group(ep.id);
      const stray = await group((await endpoint('y-plain')).id);
      const held = await whileHeld(
        [
          ['SELECT id FROM endpoints WHERE id = $1 FOR NO KEY UPDATE', [ep.id]],
          [
            `INSERT INTO deployments (account_id, name, tag, endpoint_id, workergroup_id, uid, created_at, updated_at) VALUES ($1, 'y-dep', 'default', $2, $3, 'y-uid', 1, 1)`,
            [accountId, ep.id, own.id],
          ],
        ],
        () => store.updateWorkergroup(stray.id, { endpointId: ep.id }),
      );
      refusedWith(held, 'DEPLOYMENT_MANAGED');
      assert.notEqual((await store.getWorkergroup(stray.id))?.endpointId, ep.id);
    });

    it(
      "a workergroup's move under way (its endpoints held) when a deployment of the endpoint it leaves is written: the deployment waits for it and is refused",
      onPostgres,
      async () => {
        const ep = await endpoint('z-dep');
        const own = await group(ep.id);
        const plain = await endpoint('z-plain');
        const held = await whileHeld(
          [
            ['SELECT id FROM endpoints WHERE id IN ($1, $2) ORDER BY id FOR SHARE', [ep.id, plain.id]],
            ['UPDATE workergroups SET endpoint_id = $1 WHERE id = $2', [plain.id, own.id]],
          ],
          () => deployment(ep, own),
        );
        refusedWith(held, 'DEPLOYMENT_MANAGED');
        assert.equal(await store.findDeploymentByEndpoint(ep.id), undefined);
      },
    );
  });
}
