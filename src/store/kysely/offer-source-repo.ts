import type { Kysely } from 'kysely';
import type { MachineRecord } from '../../domain/machine/machine.js';
import type { StoreDialect } from '../dialects/store-dialect.js';
import type { MachineLoad, OfferSourceStore } from '../offer-source-store.js';
import * as bids from './bids.js';
import { Repo } from './repo.js';
import { toMachine } from './rows.js';
import type { Database } from './schema.js';

type Load = { gpus: number; cpuCores: number; ramMb: number; renters: Set<number> };

/** Reads of one machine or a few, for the offers index; and the per-search reads the full computation makes. */
export class OfferSourceRepo extends Repo implements OfferSourceStore {
  readonly #onlineWindowMs: number;

  constructor(db: Kysely<Database>, dialect: StoreDialect, onlineWindowMs: number) {
    super(db, dialect);
    this.#onlineWindowMs = onlineWindowMs;
  }

  async allocatedGpuCounts(): Promise<Map<number, number>> {
    const rows = await this.db
      .selectFrom('gpu_allocations')
      .select(['machine_id', (eb) => eb.fn.countAll<number>().as('n')])
      .groupBy('machine_id')
      .execute();
    return new Map(rows.map((r) => [r.machine_id, Number(r.n)]));
  }

  machinesRentedBy(accountId: number): Promise<Set<number>> {
    return bids.machinesRentedBy(this.db, accountId);
  }

  allocatedCpu(): Promise<Map<number, { cores: number; ramMb: number }>> {
    return bids.allocatedCpu(this.db);
  }

  async machinesById(ids: readonly number[], now: number): Promise<MachineRecord[]> {
    if (ids.length === 0) return [];
    const rows = await this.db.selectFrom('machines').selectAll().where('id', 'in', ids).where('deleted_at', 'is', null).orderBy('id').execute();
    return rows.map((r) => toMachine(r, now, this.#onlineWindowMs));
  }

  async machineLoads(machineIds: readonly number[] | null): Promise<Map<number, MachineLoad>> {
    if (machineIds !== null && machineIds.length === 0) return new Map();
    let gq = this.db
      .selectFrom('gpu_allocations')
      .innerJoin('instances', 'instances.id', 'gpu_allocations.instance_id')
      .select(['gpu_allocations.machine_id as machine_id', 'instances.account_id as account_id', (eb) => eb.fn.countAll<number>().as('n')])
      .groupBy(['gpu_allocations.machine_id', 'instances.account_id']);
    let cq = this.db
      .selectFrom('cpu_allocations')
      .innerJoin('instances', 'instances.id', 'cpu_allocations.instance_id')
      .select([
        'cpu_allocations.machine_id as machine_id',
        'instances.account_id as account_id',
        (eb) => eb.fn.sum<number>('cpu_allocations.cpu_cores').as('cores'),
        (eb) => eb.fn.sum<number>('cpu_allocations.ram_mb').as('ram'),
      ])
      .groupBy(['cpu_allocations.machine_id', 'instances.account_id']);
    if (machineIds !== null) {
      gq = gq.where('gpu_allocations.machine_id', 'in', machineIds);
      cq = cq.where('cpu_allocations.machine_id', 'in', machineIds);
    }
    const [gpus, cpus] = await Promise.all([gq.execute(), cq.execute()]);
    const out = new Map<number, Load>();
    const of = (id: number): Load => {
      let l = out.get(id);
      if (l === undefined) out.set(id, (l = { gpus: 0, cpuCores: 0, ramMb: 0, renters: new Set() }));
      return l;
    };
    for (const r of gpus) {
      const l = of(r.machine_id);
      l.gpus += Number(r.n);
      l.renters.add(r.account_id);
    }
    for (const r of cpus) {
      const l = of(r.machine_id);
      l.cpuCores += Number(r.cores);
      l.ramMb += Number(r.ram);
      l.renters.add(r.account_id);
    }
    return new Map([...out].map(([id, l]) => [id, { ...l, renters: [...l.renters].sort((a, b) => a - b) }]));
  }

  async machinesOfInstances(instanceIds: readonly number[]): Promise<Map<number, number>> {
    if (instanceIds.length === 0) return new Map();
    const rows = await this.db.selectFrom('instances').select(['id', 'machine_id']).where('id', 'in', instanceIds).execute();
    return new Map(rows.map((r) => [r.id, r.machine_id]));
  }

  async machinesSeenSince(since: number): Promise<{ id: number; lastSeenAt: number }[]> {
    const rows = await this.db.selectFrom('machines').select(['id', 'last_seen_at']).where('last_seen_at', '>=', since).execute();
    return rows.map((r) => ({ id: r.id, lastSeenAt: Number(r.last_seen_at) }));
  }
}
