export const DAY_S = 86_400;

/** An item of Vast's v0 statement (`GET /api/v0/users/{id}/invoices/`): a charge, a payment or credit sent. */
export interface Item {
  readonly id: number;
  readonly type: 'charge' | 'payment';
  readonly description: string;
  /** Hours, for a charge. */
  readonly quantity: number;
  readonly amount: number;
  /** Epoch seconds: a charge's end, a transfer's time. */
  readonly timestamp: number;
  readonly instance_id: number | null;
}

/** Spend per UTC day: each charge spread over the days its stretch covers, in proportion. */
export function spendPerDay(items: readonly Item[], fromS: number, days: number): [number[], number[]] {
  const x = Array.from({ length: days }, (_, i) => fromS + i * DAY_S);
  const y = x.map(() => 0);
  for (const c of items) {
    if (c.type !== 'charge' || c.instance_id === null) continue;
    const end = c.timestamp;
    const start = end - c.quantity * 3600;
    if (end <= start) {
      const i = Math.floor((end - fromS) / DAY_S);
      if (i >= 0 && i < days) y[i] = (y[i] ?? 0) + c.amount;
      continue;
    }
    for (let i = Math.max(0, Math.floor((start - fromS) / DAY_S)); i < days && fromS + i * DAY_S < end; i++) {
      const a = Math.max(start, fromS + i * DAY_S);
      const b = Math.min(end, fromS + (i + 1) * DAY_S);
      if (b > a) y[i] = (y[i] ?? 0) + (c.amount * (b - a)) / (end - start);
    }
  }
  return [x, y];
}
