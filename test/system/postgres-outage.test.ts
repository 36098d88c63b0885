import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { HOST_OFFLINE } from '../../src/domain/instance/observed-record.js';
import { isGantryError } from '../../src/domain/errors.js';
import { startTestGantry, type TestGantry } from '../helpers/gantry.js';
import { oneWorkerDeployment, SERVERLESS_FAST, until, workersOf } from '../helpers/serverless.js';
import { overTcp, TEST_STORES } from '../helpers/stores.js';
import { TcpRelay } from '../helpers/tcp-relay.js';

/**
 * PostgreSQL goes away under two running replicas and comes back (README "PostgreSQL", docs/operations.md).
 * The outage is a TCP proxy in front of the run's PostgreSQL that is cut (every connection reset, new ones
 * refused) and opened again on the same port: to Gantry it is the database stopped and started again.
 * Replica A serves the API only; replica B holds the host (its embedded agent) and looks at instances only
 * when told (the change feed) or every 5 s.
 */
const pgStore = TEST_STORES.find((s) => s.name === 'postgres');
const HOUR = 3_600_000;
/** Hosts silent this long are offline; the outage below lasts longer. */
const OFFLINE_MS = 2_000;
/** Worker reports older than this no longer count (they come every second); the outage lasts longer too. */
const STALE_MS = 3_000;

describe('PostgreSQL goes away and comes back', { skip: pgStore?.skip ?? 'no postgres store' }, () => {
  const ts = pgStore!;
  let proxy: TcpRelay;
  let url: string;
  let a: TestGantry;
  let b: TestGantry;
  let id: number;
  let endpointId: number;
  let worker: number;

  before(async () => {
    const direct = overTcp(await ts.fresh(''));
    proxy = new TcpRelay({ host: direct.hostname, port: Number(direct.port) });
    await proxy.open();
    direct.port = String(proxy.port);
    url = direct.toString();
    // Worker reports go stale within the outage: ready workers must still be kept when the database is back.
    const settings = { machineOfflineMs: OFFLINE_MS, heartbeatIntervalMs: 1_000, sweepIntervalMs: 300, ...SERVERLESS_FAST, workerReportStaleMs: STALE_MS };
    a = await startTestGantry(ts, { database: url, localHost: false, settings });
    // No looks by time at B, and claims at most every 5 s unless told: a stop written at A reaches B through the
    // change feed once it is connected again, or the next claim.
    b = await startTestGantry(ts, {
      database: url,
      gpus: '3x RTX 4090:24GB',
      settings: { ...settings, observeIntervalMs: HOUR, reconcileIdleMs: 5_000, reconcileRetryMaxMs: 5_000 },
    });
    const machine = (await a.api('GET', '/api/v0/machines/')).body.machines[0].id as number;
    // With machineOfflineMs this short, a busy machine can delay a heartbeat past it: rent once the host reads online.
    const r = await until('a rental on the host', async () => {
      const res = await a.api('PUT', `/api/v0/asks/${machine * 1000 + 1}/`, { image: 'local/sleep', onstart: 'exec sleep 600', runtype: 'args' });
      assert.ok(res.status === 200 || res.body.code === 'MACHINE_UNAVAILABLE', res.text);
      return res.status === 200 ? res : null;
    });
    id = r.body.new_contract as number;
    await a.waitInstance(id, (row) => row.actual_status === 'running');
    const d = await a.api('POST', '/api/v0/deployments/', oneWorkerDeployment('outlives'));
    assert.equal(d.status, 200, d.text);
    endpointId = d.body.deployment.endpoint_id as number;
    worker = await until('a ready worker', async () => {
      const w = await workersOf(a, endpointId);
      return w.length === 1 && w[0]!.status === 'Ready' ? w[0]!.id : null;
    });
  });

  after(async () => {
    await proxy?.open().catch(() => undefined);
    await a?.dispose();
    await b?.dispose();
    await proxy?.cut();
  });

  it('answers 503 in the dialect shape during an outage longer than machineOfflineMs, and recovers without a restart', async () => {
    // Housekeeping spares hosts for machineOfflineMs after its own start: past that, it would call them offline.
    await new Promise((r) => setTimeout(r, OFFLINE_MS + 500));
    const offered = async (): Promise<number> => (await b.api('POST', '/api/v0/bundles/', {}, { key: a.adminKey })).body.offers.length as number;
    const offersBefore = await until('a GPU free before the outage', async () => {
      const n = await offered();
      return n > 0 ? n : null;
    });
    await proxy.cut();
    const during = await a.api('GET', `/api/v0/instances/${id}/`);
    assert.equal(during.status, 503, during.text);
    assert.equal(during.body.success, false);
    assert.equal(during.body.error, 'unavailable');
    assert.equal(during.body.code, 'DATABASE_UNAVAILABLE');
    assert.match(during.body.msg, /database cannot be reached/);
    assert.equal(during.headers.get('retry-after'), '1');
    const write = await a.api('PUT', `/api/v0/instances/${id}/`, { label: 'x' });
    assert.equal(write.status, 503, write.text);
    // Longer than machineOfflineMs and workerReportStaleMs: no heartbeat nor worker report can be recorded meanwhile.
    await new Promise((r) => setTimeout(r, Math.max(2 * OFFLINE_MS, STALE_MS + 1_000)));
    await proxy.open();

    await until('A answers again', async () => (await a.api('GET', `/api/v0/instances/${id}/`)).status === 200, 20_000);
    // Several housekeeping passes (every 300 ms) after the database came back: the host was never silent by its own doing.
    await new Promise((r) => setTimeout(r, 1_500));
    const row = (await a.api('GET', `/api/v0/instances/${id}/`)).body.instances;
    assert.equal(row.actual_status, 'running', JSON.stringify(row));
    assert.ok(!String(row.status_msg ?? '').startsWith(HOST_OFFLINE), `marked offline after the outage: ${row.status_msg}`);
    const offers = await b.api('POST', '/api/v0/bundles/', {}, { key: a.adminKey });
    assert.equal(offers.status, 200, offers.text);
    assert.equal(offers.body.offers.length, offersBefore, 'the host is online again: its free GPUs are offered as before');
    // The worker's reports could not be stored during the outage: it is kept, not taken for silent and replaced.
    const watchUntil = Date.now() + STALE_MS + 1_000;
    while (Date.now() < watchUntil) {
      assert.deepEqual(
        (await workersOf(a, endpointId)).map((w) => w.id),
        [worker],
        'the ready worker is kept',
      );
      await new Promise((r) => setTimeout(r, 100));
    }
  });

  it('acts on a stop written through the other replica after the outage', async () => {
    assert.equal((await a.api('PUT', `/api/v0/instances/${id}/`, { state: 'stopped' })).status, 200);
    await a.waitInstance(id, (row) => row.actual_status === 'stopped', 20_000);
  });

  it('refuses to start on a database it cannot reach, with one sentence naming it, and frees the data dir', async () => {
    await proxy.cut();
    const dataDir = await mkdtemp(join(tmpdir(), 'gantry-pg-outage-'));
    try {
      await assert.rejects(startTestGantry(ts, { database: url, localHost: false, dataDir }), (err: unknown) => {
        assert.ok(isGantryError(err) && err.code === 'DATABASE_UNAVAILABLE', String(err));
        assert.match(err.message, /^cannot open the database postgres:\/\/\*\*\*@127\.0\.0\.1:\d+\/\w+ \(.+\); check that PostgreSQL runs there/);
        assert.ok(!err.message.includes('postgres:postgres@'), 'the password is not shown');
        return true;
      });
      await proxy.open();
      // The failed start let go of the data dir: the next one takes it.
      const again = await startTestGantry(ts, { database: url, localHost: false, dataDir });
      await again.dispose();
    } finally {
      await proxy.open().catch(() => undefined);
      await rm(dataDir, { recursive: true, force: true });
    }
  });
});
