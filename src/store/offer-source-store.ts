import type { MachineRecord } from '../domain/machine/machine.js';

/** What one machine's rentals hold: GPUs, vCPUs and RAM (MB), and the accounts renting on it. */
export interface MachineLoad {
  readonly gpus: number;
  readonly cpuCores: number;
  readonly ramMb: number;
  readonly renters: readonly number[];
}

/**
 * What offers are computed from: the whole fleet's loads (a full computation), and the narrow reads of
 * the offers index (the few machines and loads a change names).
 */
export interface OfferSourceStore {
  /** Allocated GPU count per machine. */
  allocatedGpuCounts(): Promise<Map<number, number>>;
  /** Machines on which the account rents GPUs or vCPUs. */
  machinesRentedBy(accountId: number): Promise<Set<number>>;
  /** vCPUs and RAM (MB) held per machine by instances that hold compute. */
  allocatedCpu(): Promise<Map<number, { cores: number; ramMb: number }>>;
  /** The machines with these ids (missing ones are left out), `online` judged at `now`. */
  machinesById(ids: readonly number[], now: number): Promise<MachineRecord[]>;
  /** Loads of these machines (null: of every machine); a machine nobody rents on is left out. */
  machineLoads(machineIds: readonly number[] | null): Promise<Map<number, MachineLoad>>;
  /** The machine of each of these instances (instance id → machine id). */
  machinesOfInstances(instanceIds: readonly number[]): Promise<Map<number, number>>;
  /** Machines whose host was last heard from at or after `since`, with when. */
  machinesSeenSince(since: number): Promise<{ id: number; lastSeenAt: number }[]>;
}
