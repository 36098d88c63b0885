import type { MachineForOffers } from '../offer/offer.js';

/** A registered host machine, as the engine stores it. */
export interface MachineRecord extends MachineForOffers {
  readonly hostKey: string;
  /** Runtime its agent reported ('process' or 'docker'); null before the first hello. */
  readonly runtime: string | null;
  /** Utilisation (percent) of each GPU by index, from the last heartbeat. */
  readonly gpuUtils: readonly number[] | null;
  readonly portRangeStart: number;
  readonly portRangeEnd: number;
  readonly lastSeenAt: number;
  readonly createdAt: number;
}

/** What a host reports about itself when it registers; prices and listing keep their stored values. */
export type MachineRegistration = Omit<
  MachineRecord,
  'id' | 'verified' | 'listed' | 'online' | 'lastSeenAt' | 'createdAt' | 'endDate' | 'discountRate' | 'maintenance' | 'inMaintenance' | 'gpuUtils'
> & {
  readonly verified: boolean;
};

export interface HostTokenRecord {
  readonly id: number;
  readonly accountId: number;
  readonly name: string;
  /** The machine this token speaks for; null until its agent's first hello. */
  readonly machineId: number | null;
  readonly createdAt: number;
}

/** Usage of one instance as its agent measured it. */
export interface UsageReport {
  readonly instanceId: number;
  readonly cpuUtil: number;
  readonly memUsageMb: number;
  readonly diskUsageMb: number;
}
