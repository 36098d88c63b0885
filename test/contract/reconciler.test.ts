import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { loadConfig } from '../../src/config/load.js';
import { ControlPlane } from '../../src/control/control-plane.js';
import { HostRegistry, type HostLink } from '../../src/control/hosts/hosts.js';
import type { Principal } from '../../src/control/principal.js';
import { NO_TRAFFIC } from '../../src/control/serverless/traffic-gate.js';
import type { Observation } from '../../src/domain/instance/reconcile.js';
import { createLogger } from '../../src/log/logger.js';
import { Metrics } from '../../src/log/metrics.js';
import { KyselyStore } from '../../src/store/kysely/kysely-store.js';
import { createRequest } from '../helpers/requests.js';
import { TEST_STORES } from '../helpers/stores.js';
import { testVault } from '../helpers/vault.js';

/**
 * The reconciler against a scripted host (the real process host is covered by the API and system
 * tests): paths a real runtime rarely shows, such as a stop that never completes, and two replicas
 * sharing one database.
 */
class ScriptedHost implements HostLink {
  readonly imageNotice = null;
  readonly running = new Set<number>();
  readonly starts = new Map<number, number>();
  stuck = false;
  /** A stop that never returns (a wedged host): only the step bound ends it. */
  hang = false;
  async start(spec: { instanceId: number }): Promise<void> {
    await new Promise((r) => setTimeout(r, 5)); // slow enough for two replicas to overlap
    this.starts.set(spec.instanceId, (this.starts.get(spec.instanceId) ?? 0) + 1);
    this.running.add(spec.instanceId);
  }
  async setSshKeys(): Promise<void> {}
  async inspect(id: number): Promise<Observation> {
    return this.running.has(id) ? { state: 'running' } : { state: 'absent' };
  }
  async stop(id: number): Promise<Observation> {
    if (this.hang) return new Promise<Observation>(() => undefined);
    if (!this.stuck) this.running.delete(id);
    return this.inspect(id);
  }
  async destroy(id: number): Promise<Observation> {
    return this.stop(id);
  }
  async wipeDisk(): Promise<void> {}
  async logs(): Promise<string> {
    return '';
  }
  async list(): Promise<number[]> {
    return [...this.running];
  }
  async usage(): Promise<null> {
    return null;
  }
}

for (const ts of TEST_STORES) {
  describe(`instance reconciler (${ts.name})`, { skip: ts.skip }, () => {
    let dir: string;
    let location: string;
    const stores: KyselyStore[] = [];
    const host = new ScriptedHost();
    let planes: ControlPlane[];
    let admin: Principal;

    const plane = async (over: Record<string, unknown> = {}): Promise<ControlPlane> => {
      // Replicas share PostgreSQL through separate pools. SQLite is one machine's store: its replicas
      // would be processes, and two synchronous connections inside one test process would block each other.
      const reuse = ts.name === 'sqlite' ? stores[0] : undefined;
      const store = reuse ?? new KyselyStore(ts.dialect(location));
      if (!reuse) stores.push(store);
      await store.migrate();
      const config = loadConfig({ env: {}, flags: { dataDir: dir, leaseMs: 5000, observeIntervalMs: 60_000, stepTimeoutMs: 200, ...over } });
      return new ControlPlane({
        store,
        clock: { now: () => Date.now() },
        hosts: new HostRegistry(),
        traffic: NO_TRAFFIC,
        vault: testVault(),
        log: createLogger('silent'),
        metrics: new Metrics({ defaults: false }),
        secret: 's',
        settings: config,
        apiUrl: () => 'http://x',
      });
    };

    before(async () => {
      dir = await mkdtemp(join(tmpdir(), 'gantry-rec-'));
      location = await ts.fresh(dir);
      planes = [await plane(), await plane()];
      const [a, b] = planes as [ControlPlane, ControlPlane];
      await a.bootstrapAdmin('admin-key');
      admin = await a.authenticate('admin-key');
      const reg = {
        hostKey: 'scripted',
        ownerId: admin.accountId,
        hostname: 'h',
        gpuName: 'CPU',
        numGpus: 0,
        gpuRamMb: 0,
        gpuDeclared: false,
        computeCap: null,
        cpuName: 'c',
        cpuArch: 'amd64',
        cpuCores: 1,
        cpuRamMb: 1000,
        diskSpaceGb: 100,
        driverVersion: null,
        cudaMaxGood: null,
        verified: true,
        priceGpuPerHour: 0.1,
        priceDiskPerGbMonth: 0.1,
        priceInetUpPerGb: 0,
        priceInetDownPerGb: 0,
        minBidPerGpuHour: 0.05,
        minChunk: 1,
        publicIp: '127.0.0.1',
        geolocation: 'x',
        reliability: 1,
        inetUpMbps: 1,
        inetDownMbps: 1,
        directPortCount: 100,
        osVersion: 'x',
        portRangeStart: 32000,
        portRangeEnd: 32099,
        runtime: 'process',
      };
      await a.registerHost(reg, host);
      await b.registerHost(reg, host);
    });
    after(async () => {
      for (const s of stores) await s.close();
      await rm(dir, { recursive: true, force: true });
    });

    const create = (cp: ControlPlane) => cp.createInstance(admin, createRequest({ offerId: 1000, diskGb: 1 }));

    it('two replicas on one database start each instance exactly once', async () => {
      const [a, b] = planes as [ControlPlane, ControlPlane];
      const ids: number[] = [];
      for (let i = 0; i < 20; i++) ids.push((await create(a)).instance.id);
      for (let round = 0; round < 5; round++) await Promise.all([a.reconciler.passOnce(), b.reconciler.passOnce()]);
      for (const id of ids) {
        assert.equal(host.starts.get(id), 1, `instance ${id} started once`);
        assert.equal((await a.ctx.store.getInstance(id))?.status, 'running');
      }
    });

    it('a stop that cannot complete ends in failed with the reason, and can be retried', async () => {
      const [a] = planes as [ControlPlane];
      const { instance } = await create(a);
      await a.reconciler.passOnce();
      host.stuck = true;
      await a.changeInstance(admin, instance.id, 'stop');
      await a.reconciler.passOnce();
      const failed = await a.ctx.store.getInstance(instance.id);
      assert.equal(failed?.status, 'failed');
      assert.match(failed?.statusMsg ?? '', /stop did not complete/);
      await assert.rejects(a.changeInstance(admin, instance.id, 'start'), /did not complete/);
      host.stuck = false;
      assert.equal((await a.changeInstance(admin, instance.id, 'stop')).changed, true, 'stop is retried');
      await a.reconciler.passOnce();
      assert.equal((await a.ctx.store.getInstance(instance.id))?.status, 'stopped');
    });

    it('bounds a stop that never returns: failed with the reason after stepTimeoutMs', async () => {
      const [a] = planes as [ControlPlane];
      const { instance } = await create(a);
      await a.reconciler.passOnce();
      host.hang = true;
      await a.changeInstance(admin, instance.id, 'stop');
      await a.reconciler.passOnce();
      host.hang = false;
      const failed = await a.ctx.store.getInstance(instance.id);
      assert.equal(failed?.status, 'failed');
      assert.match(failed?.statusMsg ?? '', /stop failed: stop did not complete within 200 ms/);
    });

    it('reports workloads that vanished, and stops ones running against a stopped intent', async () => {
      const [a] = planes as [ControlPlane];
      const watcher = await plane({ observeIntervalMs: 0 }); // re-observes every row on each pass
      await watcher.registerHost({ ...(await a.ctx.store.listMachines(Date.now()))[0]!, verified: true }, host);
      const { instance } = await create(a);
      await watcher.reconciler.passOnce();
      host.running.delete(instance.id); // killed from outside Gantry
      await watcher.reconciler.passOnce();
      const gone = await a.ctx.store.getInstance(instance.id);
      assert.equal(gone?.status, 'exited');
      assert.match(gone?.statusMsg ?? '', /disappeared/);
      await a.changeInstance(admin, instance.id, 'stop');
      await watcher.reconciler.passOnce();
      assert.equal((await a.ctx.store.getInstance(instance.id))?.status, 'stopped');
      host.running.add(instance.id); // something started it behind our back
      await watcher.reconciler.passOnce();
      assert.equal(host.running.has(instance.id), false);
      assert.equal((await a.ctx.store.getInstance(instance.id))?.status, 'stopped');
    });

    it('two replicas running the serverless loop recruit each worker once (endpoint leases)', async () => {
      const [a, b] = planes as [ControlPlane, ControlPlane];
      const ep = await a.serverless.createEndpoint(admin, {
        name: 'leased',
        params: { minLoad: 0, minWorkers: 3, coldWorkers: 0, maxWorkers: 5 },
        aliasOf: null,
      });
      await a.serverless.createWorkergroup(admin, ep.id, {
        template: { image: 'img', env: {}, onstart: null, args: null, diskGb: 1 },
        placement: { conditions: [{ field: 'verified', op: 'eq', value: true }] },
        launchArgs: null,
        gpuRamGb: null,
        testWorkers: 3,
      });
      for (let i = 0; i < 6; i++) {
        if (ts.name === 'postgres') await Promise.all([a.serverlessLoop.runOnce(), b.serverlessLoop.runOnce()]);
        else for (const p of [a, b]) await p.serverlessLoop.runOnce();
      }
      const workers = await a.ctx.store.listWorkers(ep.id);
      assert.equal(workers.length, 3, 'min_workers 3, recruited exactly once across replicas');
      assert.ok(workers.every((w) => w.endpointId === ep.id && w.label === 'leased worker'));
    });
  });
}
