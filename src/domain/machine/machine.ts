import type { MachineForOffers } from '../offer/offer.js';

/** A registered host machine, as the engine stores it. */
export interface MachineRecord extends MachineForOffers {
  readonly hostKey: string;
  /** Runtime its agent reported ('process' or 'docker'); null before the first hello. */
  readonly runtime: string | null;
  /** How its agent said it isolates tenants' workloads; null: never said (an older agent, or none yet). */
  readonly isolation: MachineIsolation | null;
  /** Utilisation (percent) of each GPU by index, from the last heartbeat. */
  readonly gpuUtils: readonly number[] | null;
  /** Ports of its range its agent last found held by another program (a rental through any replica skips them). */
  readonly busyPorts?: readonly number[];
  readonly portRangeStart: number;
  readonly portRangeEnd: number;
  readonly lastSeenAt: number;
  readonly createdAt: number;
}

/** What a host reports about itself when it registers; prices and listing keep their stored values. */
export type MachineRegistration = Omit<
  MachineRecord,
  | 'id'
  | 'verified'
  | 'listed'
  | 'online'
  | 'lastSeenAt'
  | 'createdAt'
  | 'endDate'
  | 'discountRate'
  | 'maintenance'
  | 'inMaintenance'
  | 'gpuUtils'
  | 'busyPorts'
  | 'isolation'
> & {
  readonly verified: boolean;
  readonly isolation?: MachineIsolation | null;
};

/**
 * How a host keeps tenants apart: `sandboxed` (containers, or the process sandbox), `shared` (workloads run as
 * Gantry's user and see its files), `unsafe-shared` (shared, and the operator accepted that for every account).
 */
export type MachineIsolation = 'sandboxed' | 'shared' | 'unsafe-shared';

export function isMachineIsolation(v: unknown): v is MachineIsolation {
  return v === 'sandboxed' || v === 'shared' || v === 'unsafe-shared';
}

/**
 * Whether an instance of `accountId` may run on `m`: always for the host's owner; for anyone else only where
 * tenants are isolated (a docker host is, whatever an older agent said) or the operator accepted sharing.
 */
export function hostAccepts(m: Pick<MachineRecord, 'ownerId' | 'runtime' | 'isolation'>, accountId: number): boolean {
  if (m.ownerId === accountId) return true;
  return m.isolation === 'sandboxed' || m.isolation === 'unsafe-shared' || m.runtime === 'docker';
}

export interface HostTokenRecord {
  readonly id: number;
  readonly accountId: number;
  readonly name: string;
  /** The machine this token speaks for; null until its agent's first hello. */
  readonly machineId: number | null;
  readonly createdAt: number;
  /** Set when the token was revoked (its machine was deleted); such a token opens nothing. */
  readonly revokedAt: number | null;
}

/** Usage of one instance as its agent measured it. */
export interface UsageReport {
  readonly instanceId: number;
  readonly cpuUtil: number;
  readonly memUsageMb: number;
  readonly diskUsageMb: number;
}
