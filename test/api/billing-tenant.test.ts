import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startTestGantry, type TestGantry } from '../helpers/gantry.js';
import { agentMachineInfo } from '../helpers/machines.js';
import { ManualClock } from '../helpers/manual-clock.js';
import { TEST_STORES } from '../helpers/stores.js';

/**
 * Money an account holds outside instances: a team's credit when the team is deleted, credit sent to a team
 * deleted meanwhile, a period's statement of older transfers, and a volume's storage in `show invoices`.
 */
for (const ts of TEST_STORES) {
  describe(`billing of teams, transfers and volumes (${ts.name})`, { skip: ts.skip }, () => {
    let g: TestGantry;
    let clock: ManualClock;
    let machineId: number;
    const balanceOf = async (key: string): Promise<number> => (await g.api('GET', '/api/v0/users/current/', undefined, { key })).body.balance as number;

    before(async () => {
      clock = new ManualClock();
      g = await startTestGantry(ts, { clock });
      machineId = (await g.api('GET', '/api/v0/machines/')).body.machines[0].id as number;
    });
    after(() => g.dispose());

    it("a team's credit goes to the owner who deletes it; a volume or a debt keeps it; credit sent to it afterwards is refused", async () => {
      const owner = (await g.api('POST', '/api/v0/users/', { username: 'lead', credit: 20 })).body as { api_key: string };
      const team = (await g.api('POST', '/api/v0/team/', { team_name: 'lab' }, { key: owner.api_key })).body as { team_id: number; api_key: string };
      const sent = await g.api('PUT', '/api/v0/commands/transfer_credit/', { recipient: String(team.team_id), amount: 5.5 }, { key: owner.api_key });
      assert.equal(sent.status, 200, sent.text);
      const offer = (await g.api('POST', '/api/v0/volumes/', { machine: machineId, size: 20, price_disk: 0.5 })).body.volume_offers[0].id as number;
      const vol = await g.api('PUT', '/api/v0/volumes/', { id: offer, size: 5 }, { key: team.api_key });
      assert.equal(vol.status, 200, vol.text);

      // A volume is billed to the team until deleted: a deleted team would pay for it forever, and nobody could delete it.
      const refused = await g.api('DELETE', '/api/v0/team/', undefined, { key: team.api_key });
      assert.equal(refused.status, 409, refused.text);
      assert.match(refused.body.msg, /volumes/);
      clock.advance(1_000);
      await g.control.billingLoop.pass();
      assert.equal((await g.api('DELETE', `/api/v0/volumes/?id=${vol.body.volume_id}`, undefined, { key: team.api_key })).status, 200);

      const before = await balanceOf(owner.api_key);
      const teamBalance = await balanceOf(team.api_key);
      assert.ok(teamBalance > 5 && teamBalance < 5.5, `the team paid for its volume: ${teamBalance}`);
      const deleted = await g.api('DELETE', '/api/v0/team/', undefined, { key: team.api_key });
      assert.equal(deleted.status, 200, deleted.text);
      assert.equal(await balanceOf(owner.api_key), before + teamBalance, "the team's credit is the owner's again, not lost with the team");
      const inv = (await g.api('GET', '/api/v1/invoices/', undefined, { key: owner.api_key })).body.results as {
        type: string;
        amount: number;
        source: string;
      }[];
      assert.deepEqual(
        inv.filter((r) => r.source === `user-${team.team_id}`).map((r) => [r.type, r.amount]),
        [
          ['transfer_in', teamBalance],
          ['transfer_out', -5.5],
        ],
        "the owner's statement shows the credit coming back",
      );

      // A transfer that resolved the team's name before the delete committed finds it gone: the credit would be lost with it.
      const lab = await g.store.getAccount(team.team_id);
      assert.ok(lab?.deletedAt !== null);
      const ownerId = (await g.api('GET', '/api/v0/users/current/', undefined, { key: owner.api_key })).body.id as number;
      await assert.rejects(g.store.transferCredit({ from: ownerId, to: team.team_id, amount: 1, note: 'transfer', now: clock.now() }), {
        code: 'RECIPIENT_NOT_FOUND',
      });
      assert.equal(await balanceOf(owner.api_key), before + teamBalance, 'nothing left the sender');
    });

    it('a team in debt is not deleted (its debt would go with it) until credit covers it', async () => {
      const owner = (await g.api('POST', '/api/v0/users/', { username: 'lead2', credit: 5 })).body as { api_key: string };
      const team = (await g.api('POST', '/api/v0/team/', { team_name: 'lab2' }, { key: owner.api_key })).body as { team_id: number; api_key: string };
      const offer = (await g.api('POST', '/api/v0/volumes/', { machine: machineId, size: 20, price_disk: 100_000 })).body.volume_offers[0].id as number;
      await g.api('PUT', '/api/v0/commands/transfer_credit/', { recipient: String(team.team_id), amount: 0.01 }, { key: owner.api_key });
      const vol = await g.api('PUT', '/api/v0/volumes/', { id: offer, size: 1 }, { key: team.api_key });
      assert.equal(vol.status, 200, vol.text);
      // $100,000/GB/month for a GB is nearly 4 cents a second: a second leaves the team owing.
      clock.advance(1_000);
      await g.control.billingLoop.pass();
      assert.equal((await g.api('DELETE', `/api/v0/volumes/?id=${vol.body.volume_id}`, undefined, { key: team.api_key })).status, 200);
      const owed = await balanceOf(team.api_key);
      assert.ok(owed < 0, `the team owes: ${owed}`);
      const refused = await g.api('DELETE', '/api/v0/team/', undefined, { key: team.api_key });
      assert.equal(refused.status, 402, refused.text);
      assert.match(refused.body.msg, /owes/);
      assert.equal((await g.api('GET', '/api/v0/team/members/', undefined, { key: team.api_key })).status, 200, 'the team and its keys are still there');
      assert.equal(
        (await g.api('PUT', '/api/v0/commands/transfer_credit/', { recipient: String(team.team_id), amount: 2 }, { key: owner.api_key })).status,
        200,
      );
      assert.equal((await g.api('DELETE', '/api/v0/team/', undefined, { key: team.api_key })).status, 200);
    });

    it('a team that owns a machine is not deleted (its earnings would reach nobody); once deleted, its host tokens join nothing', async () => {
      const owner = (await g.api('POST', '/api/v0/users/', { username: 'fleetowner', credit: 1 })).body as { api_key: string };
      const team = (await g.api('POST', '/api/v0/team/', { team_name: 'fleet' }, { key: owner.api_key })).body as { api_key: string };
      const token = async (): Promise<string> => (await g.api('POST', '/api/v0/host_tokens/', { name: 'h' }, { key: team.api_key })).body.token as string;
      const hello = async (t: string, hostKey: string) => {
        const res = await fetch(`${g.url}/agent/v1/hello`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${t}` },
          body: JSON.stringify({ hostKey, imageNotice: null, machine: agentMachineInfo() }),
        });
        return { status: res.status, body: (await res.json()) as Record<string, any> };
      };
      const joined = await hello(await token(), 'team-fleet-host-1');
      assert.equal(joined.status, 200, JSON.stringify(joined.body));
      const refused = await g.api('DELETE', '/api/v0/team/', undefined, { key: team.api_key });
      assert.equal(refused.status, 409, refused.text);
      assert.match(refused.body.msg as string, /still has machines/);
      // A team with a host token but no machine is deleted, and the token then joins nothing (before, it still
      // joined a machine for the deleted team, whose earnings nobody could reach).
      const other = (await g.api('POST', '/api/v0/team/', { team_name: 'fleet2' }, { key: owner.api_key })).body as { api_key: string };
      const spare = (await g.api('POST', '/api/v0/host_tokens/', { name: 'h' }, { key: other.api_key })).body.token as string;
      assert.equal((await g.api('DELETE', '/api/v0/team/', undefined, { key: other.api_key })).status, 200);
      assert.equal((await hello(spare, 'team-fleet-host-2')).status, 401);
    });

    it("a period's statement lists that period's transfers, however many came after it", async () => {
      const payer = (await g.api('POST', '/api/v0/users/', { username: 'payer', credit: 100 })).body as { api_key: string };
      await g.api('POST', '/api/v0/users/', { username: 'payee' });
      const early = clock.now();
      assert.equal((await g.api('PUT', '/api/v0/commands/transfer_credit/', { recipient: 'payee', amount: 7 }, { key: payer.api_key })).status, 200);
      clock.advance(86_400_000);
      for (let i = 0; i < 5; i++) await g.api('PUT', '/api/v0/commands/transfer_credit/', { recipient: 'payee', amount: 1 }, { key: payer.api_key });
      const day = encodeURIComponent(JSON.stringify({ day: { gte: (early - 1000) / 1000, lte: (early + 1000) / 1000 } }));
      const v1 = await g.api('GET', `/api/v1/invoices/?limit=3&select_filters=${day}`, undefined, { key: payer.api_key });
      assert.deepEqual(
        (v1.body.results as { amount: number }[]).map((r) => r.amount),
        [-7, 100],
        "that day's transfers (the one sent, the initial credit), though newer ones would fill the limit",
      );
      // Paged: two rows a page over the payer's seven, `total` the period's, the pages walked by next_token.
      const pages: number[][] = [];
      for (let token = ''; ;) {
        const pg = await g.api('GET', `/api/v1/invoices/?limit=2${token === '' ? '' : `&after_token=${token}`}`, undefined, { key: payer.api_key });
        assert.equal(pg.body.total, 7, pg.text);
        pages.push((pg.body.results as { amount: number }[]).map((r) => r.amount));
        if (pg.body.next_token === null) break;
        token = pg.body.next_token as string;
      }
      assert.deepEqual(pages, [[-1, -1], [-1, -1], [-1, -7], [100]]);
    });

    it("`show invoices` names a volume's storage as the volume's, not as an instance of the same number", async () => {
      const u = (await g.api('POST', '/api/v0/users/', { username: 'voluser', credit: 10 })).body as { api_key: string };
      const offer = (await g.api('POST', '/api/v0/volumes/', { machine: machineId, size: 20, price_disk: 1 })).body.volume_offers[0].id as number;
      const vol = await g.api('PUT', '/api/v0/volumes/', { id: offer, size: 2 }, { key: u.api_key });
      assert.equal(vol.status, 200, vol.text);
      clock.advance(1_000);
      await g.control.billingLoop.pass();
      const inv = (await g.api('GET', '/api/v0/users/me/invoices/', undefined, { key: u.api_key })).body.invoices as Record<string, unknown>[];
      const storage = inv.filter((r) => r.type === 'charge' && r.machine_id === machineId);
      assert.ok(storage.length > 0);
      for (const r of storage) {
        assert.equal(r.instance_id, null);
        assert.equal(r.volume_id, vol.body.volume_id);
        assert.match(String(r.description), new RegExp(`^Volume ${vol.body.volume_id} storage`));
      }
    });
  });
}
