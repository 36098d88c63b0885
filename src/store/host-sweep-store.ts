import type { SweptInstance } from '../domain/instance/sweep.js';

/** The host sweep's part of the store port (decision 017): machine leases, one read per batch of hosts, the stamp. */
export interface HostSweepStore {
  /** Lease machines due for a host sweep (decision 017); no two replicas hold one machine at once. */
  claimHostSweeps(o: HostSweepClaim): Promise<{ token: string; machineIds: number[] }>;
  /**
   * Live instances of these machines as the sweep compares them, in one read; those among `running` (listed
   * plainly running by their machine) that are `RESTING_RUNNING` are only counted per machine.
   */
  sweptInstances(machineIds: readonly number[], running: readonly { machineId: number; id: number }[]): Promise<SweptInstances>;
  /** Release the sweep leases of `token` on these machines and stamp them as swept at `now`. */
  finishHostSweeps(token: string, machineIds: readonly number[], now: number): Promise<void>;
}

export interface SweptInstances {
  readonly rows: SweptInstance[];
  /** Per machine: how many of its `running` workloads the store found at rest (not in `rows`). */
  readonly resting: Map<number, number>;
}

export interface HostSweepClaim {
  readonly owner: string;
  readonly now: number;
  readonly leaseMs: number;
  /** Machines last swept at or before this time (or never) are due. */
  readonly sweptBefore: number;
  readonly limit: number;
  /** The hosts connected to this replica: only they can be listed. */
  readonly machineIds: readonly number[];
}
