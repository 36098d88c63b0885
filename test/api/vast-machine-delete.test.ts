import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startTestGantry, type ApiResponse, type TestGantry } from '../helpers/gantry.js';
import { TEST_STORES } from '../helpers/stores.js';
import { agentMachineInfo } from '../helpers/machines.js';
import { until } from '../helpers/serverless.js';

/**
 * Vast's `delete machine` (POST /machines/{id}/force_delete/) for a host that is gone for good: refused while
 * its agent is connected and while another account rents on it; then the machine leaves show machines and
 * search, its old host token is refused, and the history of what ran on it (charges, invoices, earnings) reads.
 */
const machineInfo = agentMachineInfo({ hostname: 'gone-host', numGpus: 1, runtime: 'docker' });

// A short liveness window, so the stopped host shows offline within the test; not so short that a busy
// machine (the whole suite on two cores) counts the live host as gone between two of its reports.
const SETTINGS = { machineOfflineMs: 4000, heartbeatIntervalMs: 200, agentPollWaitMs: 300, machineCacheMs: 0 };

for (const ts of TEST_STORES) {
  describe(`vast delete machine: a host gone for good (${ts.name})`, { skip: ts.skip }, () => {
    let g: TestGantry;
    let machine: number;
    let renterKey: string;
    let mine: number;
    let theirs: number;
    const hostToken = (): Promise<string> => readFile(join(g.dataDir, 'host.token'), 'utf8').then((t) => t.trim());
    const del = (id: number, key?: string): Promise<ApiResponse> =>
      g.api('POST', `/api/v0/machines/${id}/force_delete/`, undefined, key === undefined ? {} : { key });
    const hello = async (token: string, hostKey: string): Promise<{ status: number; body: any }> => {
      const res = await fetch(`${g.url}/agent/v1/hello`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
        body: JSON.stringify({ hostKey, imageNotice: null, machine: machineInfo }),
      });
      return { status: res.status, body: await res.json() };
    };

    before(async () => {
      g = await startTestGantry(ts, { gpus: '2x RTX 4090:24GB', settings: SETTINGS });
      machine = (await g.api('GET', '/api/v0/machines/')).body.machines[0].id as number;
      renterKey = (await g.api('POST', '/api/v0/users/', { username: 'renter', credit: 100 })).body.api_key as string;
      const rent = async (key?: string): Promise<number> => {
        const r = await g.api(
          'PUT',
          `/api/v0/asks/${machine * 1000 + 1}/`,
          { image: 'x', onstart: 'sleep 300', runtype: 'ssh' },
          key === undefined ? {} : { key },
        );
        assert.equal(r.status, 200, r.text);
        return r.body.new_contract as number;
      };
      mine = await rent();
      theirs = await rent(renterKey);
      await g.waitInstance(theirs, (x) => x.actual_status === 'running', 60_000, renterKey);
      await g.waitInstance(mine, (x) => x.actual_status === 'running', 60_000);
    });
    after(() => g.dispose());

    it('is refused while the agent is connected, and is "not found" for another account', async () => {
      const online = await del(machine);
      assert.equal(online.status, 409, online.text);
      assert.equal(online.body.success, false);
      assert.equal(online.body.code, 'MACHINE_ONLINE');
      assert.match(online.body.msg, /still connected.*Stop it/);
      const foreign = await del(machine, renterKey);
      assert.equal(foreign.status, 404, foreign.text);
      assert.equal(foreign.body.code, 'MACHINE_NOT_FOUND');
    });

    it("once the host is gone, is refused while another account's instance lives on it, naming it", async () => {
      await g.agent?.stop(); // the host goes away; its workloads are left to the test's cleanup
      const busy = await until('the machine to show offline', async () => {
        const r = await del(machine);
        return r.body.code === 'MACHINE_ONLINE' ? undefined : r;
      });
      assert.equal(busy.status, 409, busy.text);
      assert.equal(busy.body.code, 'MACHINE_IN_USE');
      assert.equal(busy.body.error, 'conflict');
      assert.match(busy.body.msg, /destroy instance ID/);
      // The owner's own instance does not block: it ends with the machine.
      assert.equal(/instances ([\d, ]+) \(not destroyed\)/.exec(busy.body.msg as string)?.[1], String(theirs), busy.body.msg);
      assert.ok(
        (await g.api('GET', '/api/v0/machines/')).body.machines.some((m: { id: number }) => m.id === machine),
        'nothing changed',
      );
    });

    it("deletes it once the renter asked for the destroy: the owner's instance and the pending destroy end with it", async () => {
      const d = await g.api('DELETE', `/api/v0/instances/${theirs}/`, undefined, { key: renterKey });
      assert.equal(d.status, 200, d.text);
      const r = await del(machine);
      assert.equal(r.status, 200, r.text);
      assert.equal(r.body.success, true);
      assert.deepEqual(r.body.destroyed_instances, [mine, theirs]);
      assert.equal((await del(machine)).status, 404, 'deleted once');
    });

    it('is gone from show machines, show machine and search offers', async () => {
      assert.equal((await g.api('GET', '/api/v0/machines/')).body.machines.length, 0);
      assert.equal((await g.api('GET', `/api/v0/machines/${machine}/`)).status, 404);
      const offers = (await g.api('POST', '/api/v0/bundles/', { limit: 100 })).body.offers as { machine_id: number }[];
      assert.equal(
        offers.some((o) => o.machine_id === machine),
        false,
      );
    });

    it('refuses a hello with its old host token, saying why; a new token joins the host as a new machine', async () => {
      const old = await hello(await hostToken(), 'any-host');
      assert.equal(old.status, 401, JSON.stringify(old.body));
      assert.equal(old.body.error.code, 'MACHINE_DELETED');
      assert.match(old.body.error.message, new RegExp(`Machine ${machine} was deleted.*new host token`));
      const fresh = (await g.api('POST', '/api/v0/host_tokens/', { name: 'again' })).body.token as string;
      const again = await hello(fresh, 'gone-host-key');
      assert.equal(again.status, 200, JSON.stringify(again.body));
      assert.notEqual(again.body.machineId, machine);
    });

    it('keeps the history that names it: charges, invoices and earnings still read', async () => {
      const charges = await g.api('GET', '/api/v0/charges', undefined, { key: renterKey });
      assert.equal(charges.status, 200, charges.text);
      const rows = charges.body.results as { metadata: { instance_id: number; machine_id: number } }[];
      assert.ok(
        rows.some((c) => c.metadata.instance_id === theirs && c.metadata.machine_id === machine),
        charges.text,
      );
      assert.equal((await g.api('GET', '/api/v0/users/me/invoices', undefined, { key: renterKey })).status, 200);
      const earnings = await g.api('GET', `/api/v0/users/me/machine-earnings`);
      assert.equal(earnings.status, 200, earnings.text);
      assert.equal((await g.api('GET', `/api/v0/instances/${theirs}/`, undefined, { key: renterKey })).status, 404, 'a tombstone, as any destroyed instance');
    });

    it('gantry up on the same data starts without its deleted embedded host, and keeps serving', async () => {
      // The workloads the gone host left behind are this test's to remove; the next start has no host to do it.
      const rt = g.runtime;
      if (rt !== null) for (const id of await rt.list()) await rt.destroy(id, { graceMs: 500 });
      await g.close();
      g = await startTestGantry(ts, { dataDir: g.dataDir, database: g.database, settings: SETTINGS });
      assert.equal(g.agent, null);
      const r = await g.api('GET', '/api/v0/machines/');
      assert.equal(r.status, 200);
      assert.equal(
        (r.body.machines as { id: number }[]).some((m) => m.id === machine),
        false,
      );
    });
  });
}
