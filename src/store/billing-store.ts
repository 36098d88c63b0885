import type { ChargeRecord, TransferRecord } from '../domain/billing/records.js';

export interface ChargeQuery {
  readonly from: number;
  readonly to: number;
  readonly limit: number;
  readonly instanceId?: number | null;
  readonly machineId?: number | null;
}

export interface BillingStore {
  /**
   * Charge every open meter up to `now` and restart it there. Meters are settled a batch of instances
   * per transaction, with a compare-and-set on each meter's start, so replicas settling together never
   * charge a second twice. Returns the number of charges written.
   */
  settleMeters(now: number): Promise<number>;
  /** Charges of an account (as renter), newest first. */
  listCharges(accountId: number, q: ChargeQuery): Promise<ChargeRecord[]>;
  /** Charges earned by an account as a machine owner. */
  listEarnings(hostAccountId: number, q: ChargeQuery): Promise<ChargeRecord[]>;
  /** Move credit; `from` null adds credit (a deposit). INSUFFICIENT_CREDIT when `from` holds less than `amount`. */
  transferCredit(t: { from: number | null; to: number; amount: number; note: string | null; now: number }): Promise<TransferRecord>;
  /** Credit movements of an account (sent or received) from `from` to `to` inclusive, newest first, at most `limit`. */
  listTransfers(accountId: number, q: { readonly from: number; readonly to: number; readonly limit: number }): Promise<TransferRecord[]>;
  /** Running (or starting) instances of non-admin accounts whose balance is at or below zero, but for those with a prepaid deposit left. */
  instancesInDebt(): Promise<{ instanceId: number; accountId: number; balance: number }[]>;
}
