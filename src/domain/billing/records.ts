import type { MeterKind } from './meter.js';

/** One settled stretch of a meter: what the renter paid and the machine owner earned. */
export interface ChargeRecord {
  readonly id: number;
  readonly accountId: number;
  readonly hostAccountId: number;
  readonly machineId: number;
  readonly instanceId: number;
  /** `volume`: a volume's storage; its `instanceId` is then the volume's id. */
  readonly kind: MeterKind | 'volume';
  readonly start: number;
  readonly end: number;
  /** $/hour */
  readonly rate: number;
  readonly amount: number;
}

export interface TransferRecord {
  readonly id: number;
  /** null: a deposit an admin made. */
  readonly fromAccountId: number | null;
  readonly toAccountId: number;
  readonly amount: number;
  readonly note: string | null;
  readonly at: number;
}
