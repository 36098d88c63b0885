import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startTestGantry, type TestGantry } from '../helpers/gantry.js';
import { ManualClock } from '../helpers/manual-clock.js';
import { TEST_STORES } from '../helpers/stores.js';

/**
 * Billing through the Vast API on a real instance: compute is charged only while it runs, storage while
 * it exists, the host earns what the renter pays, and an account out of credit is stopped (not destroyed)
 * and starts again after a deposit. Time passes only where a test moves the injected clock, so every
 * charge is exact.
 */
for (const ts of TEST_STORES) {
  describe(`billing (${ts.name})`, { skip: ts.skip }, () => {
    let g: TestGantry;
    let clock: ManualClock;
    let user: { id: number; api_key: string };
    let offer: number;
    const as = (method: string, path: string, body?: unknown) => g.api(method, path, body, { key: user.api_key });
    const charges = async (id: number, type: 'gpu' | 'disk'): Promise<{ amount: number; end: number }[]> =>
      (
        (await as('GET', '/api/v0/charges/?limit=10000')).body.results as { type: string; amount: number; end: number; metadata: { instance_id: number } }[]
      ).filter((c) => c.type === type && c.metadata.instance_id === id);
    const gpuCharged = async (id: number): Promise<number> => (await charges(id, 'gpu')).reduce((s, c) => s + c.amount, 0);
    /**
     * Let `ms` of the clock pass, then run one billing pass (settle the meters, stop instances in debt), as the
     * loop does each interval; with `id`, passes until that instance's meters are settled up to now (on
     * PostgreSQL a pass skips a row another transaction holds just then, SKIP LOCKED, and the next settles it).
     */
    const elapse = async (ms: number, id?: number): Promise<void> => {
      clock.advance(ms);
      for (let i = 0; i < 100; i++) {
        await g.control.billingLoop.pass();
        if (id === undefined) return;
        const ends = [...(await charges(id, 'gpu')), ...(await charges(id, 'disk'))].map((c) => c.end);
        if (Math.max(...ends) === clock.now() / 1000) return;
        await new Promise((r) => setTimeout(r, 20));
      }
    };

    before(async () => {
      // $720/hour per GPU is 20 cents a second: ten seconds of the clock use up the renter's $1. Steps of the clock
      // stay below the host's liveness windows (machineOfflineMs, the agent's poll window); leases outlast them, so a
      // step never hands an instance being worked on to a second task.
      clock = new ManualClock();
      g = await startTestGantry(ts, { clock, settings: { priceGpuPerHour: 720, billingIntervalMs: 100, leaseMs: 60_000 } });
      user = (await g.api('POST', '/api/v0/users/', { username: 'renter', credit: 1 })).body;
      offer = (await g.api('GET', '/api/v0/machines/')).body.machines[0].id * 1000 + 1;
    });
    after(() => g.dispose());

    it('a rental needs credit: 402 with the balance, then it works after a deposit', async () => {
      const broke = (await g.api('POST', '/api/v0/users/', { username: 'broke' })).body;
      const r = await g.api('PUT', `/api/v0/asks/${offer}/`, { image: 'x', onstart: 'sleep 60' }, { key: broke.api_key });
      assert.equal(r.status, 402, r.text);
      assert.equal(r.body.error, 'insufficient_balance');
      const t = await g.api('PUT', '/api/v0/commands/transfer_credit/', { recipient: 'broke', amount: 0.5 });
      assert.equal(t.status, 200, t.text);
      const inv = await g.api('GET', '/api/v1/invoices/', undefined, { key: broke.api_key });
      assert.equal(inv.body.results[0].type, 'deposit');
      assert.equal(inv.body.results[0].amount, 0.5);
      const send = await g.api('PUT', '/api/v0/commands/transfer_credit/', { recipient: 'renter', amount: 5 }, { key: broke.api_key });
      assert.equal(send.status, 402, 'no more than the balance can be sent');
      assert.equal((await g.api('PUT', '/api/v0/commands/transfer_credit/', { recipient: 'nobody', amount: 1 })).status, 404);
    });

    it('compute is charged while running only; storage while it exists; no compute after a confirmed stop', async () => {
      const id = (await as('PUT', `/api/v0/asks/${offer}/`, { image: 'x', onstart: 'sleep 300', runtype: 'ssh', disk: 10 })).body.new_contract as number;
      await g.waitInstance(id, (x) => x.actual_status === 'running', 20_000, user.api_key);
      // One second running at $720/hour is $0.20, settled while it runs.
      await elapse(1_000, id);
      assert.equal(await gpuCharged(id), 0.2, 'running time is charged as it runs');
      assert.equal((await as('PUT', `/api/v0/instances/${id}/`, { state: 'stopped' })).status, 200);
      await g.waitInstance(id, (x) => x.actual_status === 'exited' || x.actual_status === 'stopped', 20_000, user.api_key);
      const atStop = await gpuCharged(id);
      assert.ok(atStop > 0, 'running time was charged');
      assert.equal(atStop, 0.2, 'the clock did not move during the stop: nothing was added');
      await elapse(1_000, id);
      assert.equal(await gpuCharged(id), atStop, 'nothing more for compute after the stop');
      const tree = await as('GET', '/api/v0/charges/?format=tree&limit=10000');
      const mine = tree.body.results.find((x: { source: string }) => x.source === `instance-${id}`);
      assert.ok(
        mine.items.some((i: { type: string }) => i.type === 'disk'),
        'storage keeps accruing while stopped',
      );
      // Vast's shape, which `vastai show invoices-v1 --charges [--format tree]` reads: every line has a description,
      // and `total` counts rows ("Showing N of TOTAL results"); the money is `total_amount`.
      assert.equal(typeof mine.description, 'string');
      for (const i of mine.items as { description: unknown }[]) assert.equal(typeof i.description, 'string');
      assert.equal(tree.body.total, tree.body.results.length);
      assert.equal(typeof tree.body.total_amount, 'number');
      // A page is cut at `limit`, `total` and `total_amount` are the whole period's, and next_token walks the rest:
      // before, `total` counted the page and next_token was null, so the CLI printed "Showing 20 of 20 results".
      const all = await as('GET', '/api/v0/charges/?limit=10000');
      assert.ok(all.body.results.length >= 2, all.text);
      const walked: unknown[] = [];
      for (let token = ''; ;) {
        const pg = await as('GET', `/api/v0/charges/?limit=1${token === '' ? '' : `&after_token=${token}`}`);
        assert.deepEqual([pg.body.count, pg.body.total, pg.body.total_amount], [1, all.body.total, all.body.total_amount], pg.text);
        walked.push(...(pg.body.results as unknown[]));
        if (pg.body.next_token === null) break;
        token = pg.body.next_token as string;
      }
      assert.deepEqual(walked, all.body.results);
      // The CLI's --charge-type (select_filters.type.in): this instance is no serverless worker and no volume.
      const ofType = async (t: string) => as('GET', `/api/v0/charges/?limit=10000&select_filters=${encodeURIComponent(JSON.stringify({ type: { in: [t] } }))}`);
      const instances = (await ofType('instance')).body.results as { metadata: { instance_id: number } }[];
      assert.ok(instances.some((c) => c.metadata.instance_id === id));
      assert.equal(((await ofType('serverless')).body.results as unknown[]).length, 0);
      assert.equal(((await ofType('volume')).body.results as unknown[]).length, 0);
      assert.equal((await ofType('gpu')).status, 400, 'a type Vast does not have');
      // A token Gantry did not give is a 400, not page one again.
      const junk = await as('GET', '/api/v0/charges/?after_token=eyJ4Ijp9');
      assert.deepEqual([junk.status, junk.body.msg], [400, 'after_token is not a token from a previous page.']);
      // A second of 10 GB costs less than the listing's six decimals show; the stretch's end shows it was charged.
      assert.equal(Math.max(...(await charges(id, 'disk')).map((c) => c.end)), clock.now() / 1000, 'storage is charged up to now while stopped');
      const earn = await g.api('GET', '/api/v0/users/1/machine-earnings/');
      assert.equal(earn.status, 200);
      assert.ok(earn.body.per_machine[0].gpu_earn >= atStop - 1e-6, 'the host earned what the renter paid');
      assert.equal((await as('GET', '/api/v0/users/1/machine-earnings/')).status, 404, "another user's earnings are not shown");
      const dep = await as('GET', `/api/v0/instances/balance/${id}/`);
      assert.deepEqual(dep.body, { success: true, refundable_deposit: 0, total_discount: 0, discount_months: 0 });
      assert.equal((await as('DELETE', `/api/v0/instances/${id}/`)).status, 200);
    });

    it('at zero credit running instances are stopped with a reason; a deposit lets them start again', async () => {
      const id = (await as('PUT', `/api/v0/asks/${offer}/`, { image: 'x', onstart: 'sleep 300', runtype: 'ssh' })).body.new_contract as number;
      await g.waitInstance(id, (x) => x.actual_status === 'running', 20_000, user.api_key);
      // Ten seconds at $0.20 are $2, more than the renter's $1 of credit.
      await elapse(10_000);
      const stopped = await g.waitInstance(id, (x) => x.actual_status === 'stopped' || x.actual_status === 'exited', 20_000, user.api_key);
      assert.match(String(stopped.status_msg), /credit balance is \$-?\d/);
      // The reason stays once the instance is stopped (later looks at it found nothing to say and erased it).
      for (let i = 0; i < 20; i++) {
        const again = (await as('GET', `/api/v0/instances/${id}/`)).body.instances as { status_msg: string | null };
        assert.match(String(again.status_msg), /credit balance is \$-?\d/);
        await new Promise((r) => setTimeout(r, 100));
      }
      assert.equal(stopped.cur_state, 'stopped', 'stopped, not destroyed: the disk is kept');
      assert.ok((await as('GET', '/api/v0/users/current/')).body.balance <= 0);
      assert.equal((await as('PUT', `/api/v0/instances/${id}/`, { state: 'running' })).status, 402);
      assert.equal((await g.api('PUT', '/api/v0/commands/transfer_credit/', { recipient: String(user.id), amount: 50 })).status, 200);
      assert.equal((await as('PUT', `/api/v0/instances/${id}/`, { state: 'running' })).status, 200);
      await g.waitInstance(id, (x) => x.actual_status === 'running', 20_000, user.api_key);
      assert.equal((await as('DELETE', `/api/v0/instances/${id}/`)).status, 200);
    });

    it("a reserved instance runs on the deposit its account's whole balance paid for, and stops for credit once that is spent", async () => {
      const owner = (await g.api('POST', '/api/v0/users/', { username: 'reserver', credit: 2 })).body as { api_key: string };
      const mine = (method: string, path: string, body?: unknown) => g.api(method, path, body, { key: owner.api_key });
      const id = (await mine('PUT', `/api/v0/asks/${offer}/`, { image: 'x', onstart: 'sleep 300', runtype: 'ssh', disk: 10 })).body.new_contract as number;
      await g.waitInstance(id, (x) => x.actual_status === 'running', 20_000, owner.api_key);
      assert.equal((await mine('PUT', `/api/v0/instances/prepay/${id}/`, { amount: 2 })).status, 200);
      // A second is 20 cents of compute, paid from the deposit; the storage is the balance's, now just below zero.
      await elapse(1_000, id);
      assert.ok((await mine('GET', '/api/v0/users/current/')).body.balance < 0);
      assert.equal((await mine('GET', `/api/v0/instances/balance/${id}/`)).body.refundable_deposit, 1.8);
      for (let i = 0; i < 10; i++) {
        await g.control.billingLoop.pass();
        const row = (await mine('GET', `/api/v0/instances/${id}/`)).body.instances as { intended_status: string };
        assert.equal(row.intended_status, 'running', 'not stopped for credit while its deposit pays its compute');
        await new Promise((r) => setTimeout(r, 20));
      }
      // A start is not refused either while the deposit lasts.
      assert.equal((await mine('PUT', `/api/v0/instances/${id}/`, { state: 'stopped' })).status, 200);
      await g.waitInstance(id, (x) => x.actual_status === 'stopped' || x.actual_status === 'exited', 20_000, owner.api_key);
      assert.equal((await mine('PUT', `/api/v0/instances/${id}/`, { state: 'running' })).status, 200);
      await g.waitInstance(id, (x) => x.actual_status === 'running', 20_000, owner.api_key);
      // Ten more seconds cost $2: the deposit's $1.80 runs out, the balance pays the rest, and the instance is stopped.
      await elapse(10_000);
      const stopped = await g.waitInstance(id, (x) => x.actual_status === 'stopped' || x.actual_status === 'exited', 20_000, owner.api_key);
      assert.match(String(stopped.status_msg), /credit balance is \$-?\d/);
      assert.equal((await mine('GET', `/api/v0/instances/balance/${id}/`)).body.refundable_deposit, 0);
      assert.equal((await mine('DELETE', `/api/v0/instances/${id}/`)).status, 200);
    });
  });
}
