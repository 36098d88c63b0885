import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startTestGantry, type TestGantry } from '../helpers/gantry.js';
import { until } from '../helpers/serverless.js';
import { ONE_STORE } from '../helpers/stores.js';
import { startVastClients, vastClientsMissing, type VastClients } from '../helpers/vast-clients.js';

/** `vastai show invoices-v1 --charges`, unchanged, over Gantry's charges: its table, its tree, its type filter. */
const missing = vastClientsMissing();

for (const ts of ONE_STORE) {
  describe(`charges through the official Vast CLI (${ts.name})`, { skip: ts.skip || missing }, () => {
    let g: TestGantry;
    let vast: VastClients;
    let id: number;

    before(async () => {
      g = await startTestGantry(ts, { gpus: '3x RTX 4090:24GB', settings: { billingIntervalMs: 200 } });
      vast = startVastClients(g.url, g.adminKey as string);
      const machine = (await g.api('GET', '/api/v0/machines/')).body.machines[0].id as number;
      const rented = await g.api('PUT', `/api/v0/asks/${machine * 1000 + 1}/`, { image: 'x', onstart: 'sleep 300', runtype: 'ssh', label: 'billed' });
      assert.equal(rented.status, 200, rented.text);
      id = rented.body.new_contract as number;
      // Two more of one GPU each: a charge row per contract and day, and the paging test wants three.
      for (let i = 0; i < 2; i++) {
        const more = await g.api('PUT', `/api/v0/asks/${machine * 1000 + 1}/`, { image: 'x', onstart: 'sleep 300', runtype: 'ssh' });
        assert.equal(more.status, 200, more.text);
      }
      await until('a charge', async () => ((await g.api('GET', '/api/v0/charges/')).body.count as number) > 0);
    });
    after(async () => {
      vast?.close();
      await g.dispose();
    });

    const charges = async (...args: string[]): Promise<string> => charged(args);
    const charged = async (args: string[], input?: string): Promise<string> => {
      const r = await vast.vastai(['show', 'invoices-v1', '--charges', '--no-color', ...args], undefined, input);
      assert.doesNotMatch(r.out, /Traceback/, r.out);
      return r.out;
    };

    it('prints the table and the tree, and says how many results there are', async () => {
      const table = await charges();
      assert.match(table, new RegExp(`instance-${id}|Instance\\s+.*${id}`, 'i'), table);
      assert.match(table, /Showing \d+ of \d+ results/, table);
      const tree = await charges('--format', 'tree');
      assert.match(tree, /Charges Breakdown/, tree);
      assert.match(tree, new RegExp(`${id}`), tree);
    });

    it('pages: --limit gives a page and its token, the prompt fetches the next, --next-token starts there', async () => {
      await until('three charges', async () => ((await g.api('GET', '/api/v0/charges/')).body.total as number) >= 3);
      const first = await charged(['-l', '1'], 'n\n');
      const total = Number(/Showing 1 of (\d+) results/.exec(first)?.[1]);
      assert.ok(total >= 3, first);
      const token = /Next page token: (\S+)/.exec(first)?.[1];
      assert.ok(token !== undefined, first);
      // "Fetch next page?" answered yes once: the second page adds to the first.
      assert.match(await charged(['-l', '1'], 'y\nn\n'), /Showing 2 of \d+ results/);
      const second = await charged(['-l', '1', '--next-token', token], 'n\n');
      assert.match(second, /Showing 1 of \d+ results/, second);
      assert.notEqual(/Next page token: (\S+)/.exec(second)?.[1], token, 'the token moves on');
    });

    it('--charge-type picks the kind of contract', async () => {
      assert.match(await charges('-ct', 'instance'), /Showing [1-9]\d* of [1-9]\d* results/);
      assert.match(await charges('-ct', 'volume'), /No results found/);
    });
  });
}
