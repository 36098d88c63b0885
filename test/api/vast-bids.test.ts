import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startTestGantry, type TestGantry } from '../helpers/gantry.js';
import { ONE_STORE } from '../helpers/stores.js';
import { startVastClients, vastClientsMissing, type VastClients } from '../helpers/vast-clients.js';
import { machineReg } from '../helpers/machines.js';

/**
 * Interruptible instances as on Vast, driven with the official clients: the minimum bid, preemption by an
 * on-demand rental and by a higher bid (the loser stops through the one lifecycle, keeps its disk and says
 * why), resumption when GPUs free up, `change bid`, billing at the bid price, `prepay instance` and
 * `show deposit`; and CPU capacity: vCPUs are held like GPUs and offers show what is left.
 */
const ts = ONE_STORE[0]!;
const skip = ts.skip || vastClientsMissing();

type Row = Record<string, unknown>;

describe('vast bids, preemption, reserved deposits and CPU capacity', { skip }, () => {
  let g: TestGantry;
  let vast: VastClients;
  let machineId: number;
  let offer: string;

  before(async () => {
    g = await startTestGantry(ts, { gpus: '1x RTX 4090:24GB', settings: { machineCacheMs: 0 } });
    vast = startVastClients(g.url, g.adminKey as string);
    machineId = (await g.api('GET', '/api/v0/machines/')).body.machines[0].id as number;
    offer = String(machineId * 1000 + 1);
  });
  after(async () => {
    vast.close();
    await g.dispose();
  });

  const created = (out: string): number => {
    const m = /'new_contract': (\d+)|"new_contract": (\d+)/.exec(out);
    assert.ok(m, out);
    return Number(m[1] ?? m[2]);
  };
  const create = (cli: 'legacy' | 'vastai', extra: string[]): Promise<{ out: string }> =>
    vast[cli](['create', 'instance', offer, '--image', 'x', '--disk', '1', '--onstart-cmd', 'sleep 300', ...extra]);
  const running = (id: number): Promise<Row> => g.waitInstance(id, (x) => x.actual_status === 'running' && x.intended_status === 'running', 180_000);
  const destroy = async (id: number): Promise<void> => {
    assert.equal((await g.api('DELETE', `/api/v0/instances/${id}/`)).status, 200);
    for (let i = 0; i < 1200 && (await g.api('GET', `/api/v0/instances/${id}/`)).status !== 404; i++) await new Promise((r) => setTimeout(r, 50));
  };
  let low = 0;

  it('set min-bid works with both CLIs; a bid below the minimum is refused naming it', async () => {
    assert.match((await vast.vastai(['set', 'min-bid', String(machineId), '--price', '0.3'])).out, /min bid price changed/i);
    assert.match((await vast.legacy(['set', 'min-bid', String(machineId), '--price', '0.2'])).out, /min bid price changed/i);
    const o = (await g.api('POST', '/api/v0/bundles/', { type: 'bid' })).body.offers.find((x: Row) => x.machine_id === machineId) as Row;
    assert.equal(o.min_bid, 0.2);
    const refused = await create('legacy', ['--bid_price', '0.01']);
    assert.match(refused.out, /error 400/i);
    const direct = await g.api('PUT', `/api/v0/asks/${offer}/`, { image: 'x', disk: 1, price: 0.01 });
    assert.equal(direct.status, 400);
    assert.equal(direct.body.error, 'invalid_args');
    assert.equal(direct.body.code, 'BID_TOO_LOW');
    assert.match(direct.body.msg, /minimum bid of \$0\.2\/hour/);
    assert.equal((await g.api('GET', '/api/v0/instances/')).body.instances.length, 0, 'nothing was created');
  });

  it('an on-demand rental preempts the bid: it stops, keeps its disk and says why; it resumes when the GPU frees', async () => {
    low = created((await create('vastai', ['--bid_price', '0.25', '--raw'])).out);
    const bid = await running(low);
    assert.equal(bid.is_bid, true);
    assert.equal(bid.dph_base, 0.25, 'billed at the bid price');
    const onDemand = created((await create('legacy', ['--raw'])).out);
    const stopped = await g.waitInstance(low, (x) => x.actual_status === 'stopped', 180_000);
    assert.equal(stopped.intended_status, 'running', 'it still wants to run');
    assert.match(String(stopped.status_msg), /preempted by an on-demand rental/);
    assert.match(String(stopped.status_msg), /storage is/);
    await running(onDemand);
    // GPU time was charged at the bid price while it ran, and nothing after the stop was confirmed.
    const charges = async (): Promise<Row[]> =>
      ((await g.api('GET', '/api/v0/charges/?limit=10000')).body.results as Row[]).filter((c) => (c.metadata as Row).instance_id === low);
    await new Promise((r) => setTimeout(r, 400));
    const gpu = (await charges()).filter((c) => c.type === 'gpu');
    assert.ok(gpu.length > 0, JSON.stringify(await charges()));
    assert.ok(gpu.every((c) => c.rate === 0.25));
    const charged = gpu.reduce((n, c) => n + (c.amount as number), 0);
    await new Promise((r) => setTimeout(r, 600));
    const later = (await charges()).filter((c) => c.type === 'gpu').reduce((n, c) => n + (c.amount as number), 0);
    assert.equal(later, charged, 'no GPU time is billed while it is preempted');
    await destroy(onDemand);
    const back = await running(low);
    assert.equal(back.status_msg, null);
  });

  it('a higher bid preempts the lower; change bid below the minimum is refused, above the winner wins again', async () => {
    const high = created(
      (await vast.legacy(['create', 'instance', offer, '--image', 'x', '--disk', '1', '--onstart-cmd', 'sleep 300', '--bid_price', '0.5', '--raw'])).out,
    );
    const lost = await g.waitInstance(low, (x) => x.actual_status === 'stopped', 180_000);
    assert.match(String(lost.status_msg), /outbid by a higher bid/);
    await running(high);
    assert.match((await vast.legacy(['change', 'bid', String(low), '--price', '0.1'])).out, /error 400/i);
    const r = await g.api('PUT', `/api/v0/instances/bid_price/${low}/`, { client_id: 'me', price: 0.1 });
    assert.equal(r.body.code, 'BID_TOO_LOW');
    assert.match((await vast.vastai(['change', 'bid', String(low), '--price', '0.9'])).out, /bid price changed/i);
    const won = await running(low);
    assert.equal(won.dph_base, 0.9);
    const loser = await g.waitInstance(high, (x) => x.actual_status === 'stopped', 180_000);
    assert.match(String(loser.status_msg), /outbid/);
    await destroy(high);
  });

  it('prepay instance and show deposit: credit moves into the instance with a discount', async () => {
    const me = (await g.api('GET', '/api/v0/users/current/')).body as Row;
    assert.equal((await g.api('PUT', '/api/v0/commands/transfer_credit/', { recipient: String(me.id), amount: 20 })).status, 200);
    const before = (await g.api('GET', '/api/v0/users/current/')).body.balance as number;
    const out = (await vast.legacy(['prepay', 'instance', String(low), '5'])).out;
    assert.match(out, /prepaid for [\d.]+ months of instance \d+ applying \$5(\.0)? credits for a discount of [\d.]+%/, out);
    const text = (await vast.legacy(['show', 'deposit', String(low)])).out;
    const shown = JSON.parse(text.slice(text.indexOf('{'))) as Row;
    assert.ok((shown.refundable_deposit as number) > 4.9, JSON.stringify(shown));
    assert.ok((shown.total_discount as number) > 0);
    const sdk = await vast.sdk(`from vastai import VastAI\nprint(json.dumps(VastAI(api_key=KEY, server_url=URL).show_deposit(id=${low})))`);
    assert.match(sdk.out, /refundable_deposit/);
    const after = (await g.api('GET', '/api/v0/users/current/')).body.balance as number;
    assert.ok(after <= before - 4.9, `balance ${before} → ${after}`);
    await destroy(low);
  });

  it('CPU capacity: rentals hold vCPUs, offers show what is left, a rental that does not fit is refused', async () => {
    const owner = (await g.api('GET', '/api/v0/users/current/')).body.id as number;
    const m = await g.store.registerMachine({ ...machineReg('cpu-host', owner, 0), gpuName: 'CPU', cpuCores: 4, cpuRamMb: 8000 }, Date.now());
    const cpuOffers = async (): Promise<Row[]> =>
      ((await g.api('POST', '/api/v0/bundles/', { limit: 100 })).body.offers as Row[]).filter((o) => o.machine_id === m.id);
    const first = await cpuOffers();
    assert.deepEqual(first.map((o) => o.cpu_cores_effective).sort(), [1, 2, 4]);
    assert.ok(first.every((o) => o.rented === false && o.cpu_cores === 4));
    for (const n of [2, 1]) {
      const r = await g.api('PUT', `/api/v0/asks/${m.id * 1000 + n}/`, { image: 'x', disk: 1 });
      assert.equal(r.status, 200, r.text);
    }
    const left = await cpuOffers();
    assert.deepEqual(
      left.map((o) => o.cpu_cores_effective),
      [1],
    );
    assert.equal(left[0]?.cpu_cores, 1);
    assert.equal(left[0]?.cpu_ram, 2000);
    assert.equal(left[0]?.rented, true);
    const refused = await g.api('PUT', `/api/v0/asks/${m.id * 1000 + 2}/`, { image: 'x', disk: 1 });
    assert.equal(refused.status, 409, refused.text);
    assert.match(refused.body.msg, /1 vCPUs and 2000 MB RAM free; 2 vCPUs/);
    // On the GPU machine the one GPU rental holds all of its vCPUs, and gives them back when destroyed.
    const gpuOffer = async (): Promise<Row | undefined> =>
      ((await g.api('POST', '/api/v0/bundles/', { limit: 100 })).body.offers as Row[]).find((o) => o.machine_id === machineId);
    const cores = (await gpuOffer())?.cpu_cores;
    const id = created((await create('legacy', ['--raw'])).out);
    assert.equal(await gpuOffer(), undefined, 'its only GPU is rented');
    await running(id);
    await destroy(id);
    assert.equal((await gpuOffer())?.cpu_cores, cores, 'freed on destroy');
  });
});
