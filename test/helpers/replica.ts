import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../../src/config/load.js';
import { ControlPlane } from '../../src/control/control-plane.js';
import type { Welcome } from '../../src/control/hosts/agent-hub.js';
import { ensureHostToken, newHostToken } from '../../src/control/hosts/host-tokens.js';
import { HostRegistry } from '../../src/control/hosts/hosts.js';
import { NO_TRAFFIC } from '../../src/control/serverless/traffic-gate.js';
import { createLogger } from '../../src/log/logger.js';
import { Metrics } from '../../src/log/metrics.js';
import { KyselyStore } from '../../src/store/kysely/kysely-store.js';
import { cpuHost, rental } from './machines.js';
import type { TestStore } from './stores.js';
import { testVault } from './vault.js';

/**
 * One control-plane replica on a shared database, as the replica tests make them: on PostgreSQL each has a
 * pool of its own (pushed to `stores`); SQLite is one machine's store, so its replicas share the first one
 * (two synchronous connections inside one test process would block each other).
 */
export async function replicaPlane(
  ts: TestStore,
  stores: KyselyStore[],
  location: string,
  dataDir: string,
  flags: Record<string, unknown>,
  storeOpts: ConstructorParameters<typeof KyselyStore>[1] = {},
): Promise<ControlPlane> {
  const reuse = ts.name === 'sqlite' ? stores[0] : undefined;
  const store = reuse ?? new KyselyStore(ts.dialect(location), storeOpts);
  if (!reuse) stores.push(store);
  await store.migrate();
  return planeOn(store, dataDir, flags);
}

/** A control plane on a migrated store, silent, with no gateway; `o` replaces its parts (a clock of the test's). */
export function planeOn(
  store: KyselyStore,
  dataDir: string,
  flags: Record<string, unknown>,
  o: Partial<ConstructorParameters<typeof ControlPlane>[0]> = {},
): ControlPlane {
  return new ControlPlane({
    store,
    clock: { now: () => Date.now() },
    hosts: new HostRegistry(),
    traffic: NO_TRAFFIC,
    vault: testVault(),
    log: createLogger('silent'),
    metrics: new Metrics({ defaults: false }),
    secret: 's',
    settings: loadConfig({ env: {}, flags: { dataDir, ...flags } }),
    apiUrl: () => 'http://x',
    ...o,
  });
}

/** Wait until the clock shows a later millisecond than now (with room for one more). */
export async function laterMs(): Promise<void> {
  const t = Date.now();
  while (Date.now() <= t + 1) await new Promise((r) => setTimeout(r, 1));
}

/**
 * One reconciler pass in a later millisecond than the last: with `observeIntervalMs: 0` a host swept in this
 * very millisecond is at rest for it (a sweep takes hosts swept at least 1 ms before), and a fast machine runs
 * two passes in one.
 */
export async function passLater(cp: ControlPlane): Promise<number> {
  await laterMs();
  return cp.reconciler.passOnce();
}

/** A host joined to a replica as `gantry agent` joins: a host token of the account, then hello (a CPU host, ports from `portRangeStart`). */
export async function joinHost(cp: ControlPlane, accountId: number, hostKey: string, portRangeStart: number): Promise<{ token: string; welcome: Welcome }> {
  const token = newHostToken();
  await ensureHostToken(cp.ctx, accountId, token);
  const welcome = await cp.agents.hello(token, { hostKey, imageNotice: null, machine: { ...cpuHost(portRangeStart), hostname: hostKey } });
  return { token, welcome };
}

/** A plain instance row of the account on a machine (CPU, created, to run), written straight to the store; `sshPort`: with SSH access. */
export async function instanceRow(cp: ControlPlane, accountId: number, machineId: number, o: { sshPort?: boolean } = {}): Promise<number> {
  const r = rental({
    accountId,
    machineId,
    numGpus: 0,
    diskGb: 1,
    dphBase: 0.1,
    storageCost: 0.1,
    target: 'running',
    instanceKeyHash: (id) => `row-${id}-${machineId}`,
    now: Date.now(),
  });
  return (await cp.ctx.store.createInstance({ ...r, ...(o.sshPort === true && { sshPort: true }) })).id;
}

/** Replicas A and B on one fresh database of the test store, in a temporary dir; the admin key bootstrapped on A. */
export interface ReplicaPair {
  readonly a: ControlPlane;
  readonly b: ControlPlane;
  close(): Promise<void>;
}

export async function replicaPair(ts: TestStore, name: string, flagsB: Record<string, unknown>): Promise<ReplicaPair> {
  const dir = await mkdtemp(join(tmpdir(), `gantry-${name}-`));
  const stores: KyselyStore[] = [];
  const location = await ts.fresh(dir);
  const a = await replicaPlane(ts, stores, location, dir, {});
  const b = await replicaPlane(ts, stores, location, dir, flagsB);
  await a.bootstrapAdmin('admin-key');
  return {
    a,
    b,
    close: async () => {
      a.agents.close();
      b.agents.close();
      for (const s of stores) await s.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
