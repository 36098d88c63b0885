import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { join } from 'node:path';
import { parseVastSearch } from '../src/api/dialects/vast/offers.js';
import { offersOf, type Offer } from '../src/domain/offer/offer.js';
import { offerFieldType } from '../src/domain/offer/search.js';
import { applyQuery } from '../src/domain/query/filter.js';
import { Pool } from 'undici';
import { pair, pct, startBenchGantry, type LatencyRow } from './util.js';

const MACHINES = 25_000; // 8 GPUs each, chunks 1/2/4/8 → 100,000 offers
const ROUNDS = 40; // each round runs the 20 queries of the mix once
const GPUS = ['RTX 4090', 'RTX 3090', 'A100 PCIE', 'H100 SXM', 'RTX A6000', 'L40S', 'RTX 4080', 'A40'];
const GEOS = ['US', 'CA', 'DE', 'FR', 'GB', 'JP', 'SE', 'PL'];

/** What clients search for, in Vast's body form: GPU model, count, price, reliability, place; cheapest or best first. */
const MIX: readonly Record<string, unknown>[] = [
  { num_gpus: { gte: 2 }, reliability: { gte: 0.95 }, verified: { eq: true }, order: [['dph_total', 'asc']], limit: 64 },
  { gpu_name: { eq: 'RTX 4090' }, order: [['dph_total', 'asc']], limit: 64 },
  { gpu_name: { eq: 'RTX_4090' }, num_gpus: { eq: 1 }, limit: 64 },
  { gpu_name: { eq: 'H100 SXM' }, num_gpus: { gte: 4 }, order: [['dph_total', 'asc']], limit: 64 },
  { gpu_name: { eq: 'A100 PCIE' }, reliability: { gte: 0.98 }, order: [['score', 'desc']], limit: 64 },
  { gpu_name: { in: ['RTX 4090', 'RTX 3090'] }, dph_total: { lte: 0.5 }, order: [['dph_total', 'asc']], limit: 64 },
  { dph_total: { lte: 0.3 }, order: [['dph_total', 'asc']], limit: 64 },
  { num_gpus: { eq: 8 }, order: [['dph_total', 'asc']], limit: 64 },
  { reliability: { gte: 0.99 }, geolocation: { in: ['US', 'CA'] }, limit: 64 },
  { geolocation: { eq: 'DE' }, order: [['dph_total', 'asc']], limit: 64 },
  { gpu_name: { eq: 'L40S' }, geolocation: { in: ['SE', 'PL'] }, order: [['dph_total', 'asc']], limit: 64 },
  { num_gpus: { gte: 1 }, order: [['score', 'desc']], limit: 64 },
  { limit: 64 },
  { gpu_name: { eq: 'RTX A6000' }, num_gpus: { eq: 2 }, reliability: { gte: 0.95 }, limit: 64 },
  { verified: { eq: true }, rentable: { eq: true }, num_gpus: { eq: 1 }, order: [['dph_total', 'asc']], limit: 64 },
  { gpu_name: { eq: 'RTX 4080' }, dph_total: { lte: 1 }, order: [['reliability', 'desc']], limit: 64 },
  { dph_total: { lte: 2 }, num_gpus: { gte: 4 }, reliability: { gte: 0.97 }, order: [['dph_total', 'asc']], limit: 64 },
  { gpu_name: { eq: 'A40' }, type: 'bid', order: [['dph_total', 'asc']], limit: 64 },
  { geolocation: { notin: ['JP'] }, num_gpus: { eq: 4 }, order: [['score', 'desc']], limit: 64 },
  { gpu_name: { eq: 'H100 SXM' }, allocated_storage: 50, order: [['dph_total', 'asc']], limit: 16 },
];

/** Heap in use after a full collection (MB): what the index holds shows as the difference. */
function heapMb(): number {
  setFlagsFromString('--expose-gc');
  (runInNewContext('gc') as () => void)();
  return process.memoryUsage().heapUsed / 1e6;
}

const time = async (f: () => Promise<unknown>): Promise<number> => {
  const t = process.hrtime.bigint();
  await f();
  return Number(process.hrtime.bigint() - t) / 1e6;
};

/**
 * Offer search over 100,000 offers (25,000 machines): a mix of 20 searches over HTTP, side by side with
 * the same searches evaluated in-process on offer rows already built; then the mix again while machines
 * change (listing price, unlisting) as fast as the store takes them, each change published to the index.
 */
export async function searchBench(dir: string): Promise<LatencyRow[]> {
  // Registering 25,000 machines takes minutes here: none may count as offline meanwhile (no heartbeats in this bench).
  // The loops at their defaults (the bench helper polls every few ms for the create and stop parts), so a search
  // shares the process with what a user's server runs beside it.
  const g = await startBenchGantry(join(dir, 'search'), '8x RTX 4090:24GB', {
    runtime: 'process',
    machineOfflineMs: 3_600_000,
    observeIntervalMs: 1_000,
    reconcileIdleMs: 250,
  });
  try {
    const base = (await g.store.listMachines(Date.now()))[0];
    if (!base) throw new Error('no machine');
    for (let i = 0; i < MACHINES - 1; i++) {
      await g.store.registerMachine(
        {
          ...base,
          hostKey: `bench-${i}`,
          gpuName: GPUS[i % GPUS.length] as string,
          geolocation: GEOS[(i >> 3) % GEOS.length] as string,
          priceGpuPerHour: 0.1 + (i % 97) / 100,
          reliability: 0.9 + (i % 10) / 100,
        },
        Date.now(),
      );
    }
    const key = g.adminKey ?? '';
    // A keep-alive client of its own (undici's pool, not fetch's web streams): the time is the server's and the JSON's.
    const client = new Pool(g.url, { connections: 2 });
    const search = async (body: Record<string, unknown>): Promise<{ offers: unknown[] }> => {
      const r = await client.request({
        method: 'POST',
        path: '/api/v0/bundles/',
        headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
      const text = await r.body.text();
      if (r.statusCode !== 200) throw new Error(`bench: search answered ${r.statusCode}: ${text.slice(0, 300)}`);
      return JSON.parse(text) as { offers: unknown[] };
    };
    const before = heapMb();
    const buildMs = await time(() => search({ limit: 1 }));
    const indexMb = heapMb() - before;
    const principal = await g.control.authenticate(key);

    // Baseline: the same searches on rows built once per pricing, in this process.
    const machines = await g.store.listMachines(Date.now());
    const queries = MIX.map((b) => parseVastSearch(b));
    const rowsFor = new Map<string, Offer[]>();
    for (const q of queries) {
      const k = `${q.type}/${q.allocatedStorageGb}`;
      if (!rowsFor.has(k))
        rowsFor.set(
          k,
          machines.flatMap((m) => offersOf(m, m.numGpus, { type: q.type, allocatedStorageGb: q.allocatedStorageGb, rentedByCaller: false })),
        );
    }
    const rowsMb = heapMb() - before - indexMb; // the baseline's rows, not the index's
    const expected = queries.map((q) => applyQuery(rowsFor.get(`${q.type}/${q.allocatedStorageGb}`) ?? [], q, offerFieldType).length);
    const offers = rowsFor.get('on-demand/5')?.length ?? 0;
    const run = async (i: number, via: 'http' | 'index' | 'direct'): Promise<number> =>
      time(async () => {
        const q = queries[i] as (typeof queries)[number];
        const n =
          via === 'http'
            ? (await search(MIX[i] as Record<string, unknown>)).offers.length
            : via === 'index'
              ? (await g.control.searchOffers(principal, q)).length
              : applyQuery(rowsFor.get(`${q.type}/${q.allocatedStorageGb}`) ?? [], q, offerFieldType).length;
        if (n !== expected[i]) throw new Error(`search ${i}: ${n} offers, expected ${expected[i]}`);
      });
    for (let i = 0; i < MIX.length; i++) await run(i, 'http'); // every pricing and order warmed once
    const allMb = heapMb() - before - rowsMb;
    const h: number[] = [];
    const x: number[] = [];
    const d: number[] = [];
    // One way at a time, not interleaved: the baseline's scans allocate hundreds of MB per round, and the
    // collections they cause would land in the next HTTP search, which is not the index's cost.
    for (const [via, out] of [
      ['http', h],
      ['index', x],
      ['direct', d],
    ] as const) {
      for (let r = 0; r < ROUNDS; r++) for (let i = 0; i < MIX.length; i++) out.push(await run(i, via));
    }

    // The same mix while machines change: a price now and then, an unlisting and listing again.
    let changing = true;
    let changes = 0;
    const churn = (async () => {
      for (let i = 0; changing; i++) {
        const id = (machines[(i * 7919) % machines.length] as (typeof machines)[number]).id;
        await g.store.setListing(id, i % 10 === 9 ? { listed: false } : { listed: true, priceGpuPerHour: 0.1 + (i % 97) / 100 });
        if (i % 10 === 9) await g.store.setListing(id, { listed: true });
        changes++;
        await new Promise((r) => setTimeout(r, 1));
      }
    })();
    const c: number[] = [];
    const started = Date.now();
    try {
      for (let r = 0; r < ROUNDS / 2; r++) {
        for (let i = 0; i < MIX.length; i++) {
          c.push(await time(() => search(MIX[i] as Record<string, unknown>)));
        }
      }
    } finally {
      // Also when a search failed: the changes end before the server closes under them.
      changing = false;
      await churn;
    }
    const perSecond = Math.round(changes / ((Date.now() - started) / 1000));
    await client.close();
    const bench = `offer search, mix of ${MIX.length} (${offers} offers)`;
    const [baseline, index] = pair(
      bench,
      ['in-process query on ready rows (baseline)', d],
      [
        `POST /api/v0/bundles/ (index: ${indexMb.toFixed(0)} MB heap for one pricing, ${allMb.toFixed(0)} MB for the mix's 3; first search ${buildMs.toFixed(0)} ms)`,
        h,
      ],
    );
    return [
      baseline as LatencyRow,
      { bench, variant: 'in-process search of the offers index', n: x.length, p50Ms: pct(x, 50), p99Ms: pct(x, 99), ratioP50: pct(x, 50) / pct(d, 50) },
      index as LatencyRow,
      {
        bench,
        variant: `POST /api/v0/bundles/ while ${perSecond} machine changes/s`,
        n: c.length,
        p50Ms: pct(c, 50),
        p99Ms: pct(c, 99),
        ratioP50: pct(c, 50) / pct(d, 50),
      },
    ];
  } finally {
    await g.close();
  }
}
