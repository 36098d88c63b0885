import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { ControlPlane } from '../../../control/control-plane.js';
import type { Principal } from '../../../control/principal.js';
import type { ChargeRecord, TransferRecord } from '../../../domain/billing/records.js';
import { applyQuery, parseCondition, type FieldType } from '../../../domain/query/filter.js';
import { principal } from '../../edge/principal.js';
import { asObject, jsonParam, optBool, optEpochMs } from './parse.js';

type Req = FastifyRequest<{ Params: Record<string, string>; Querystring: Record<string, unknown> }>;

const r6 = (x: number): number => Math.round(x * 1e6) / 1e6;
/** Statements are bounded: a period holds at most this many charges or transfers. */
const MAX_ROWS = 10_000;

/** A charge as an item of Vast's v0 invoice (`show invoices`): `type` "charge", hours as the quantity. */
function chargeItem(c: ChargeRecord): Record<string, unknown> {
  // A volume's charge names the volume (its id is no instance's): `--instance_label` filters by instance_id.
  const volume = c.kind === 'volume';
  return {
    id: c.id,
    type: 'charge',
    description: volume
      ? `Volume ${c.instanceId} storage on machine ${c.machineId}`
      : `Instance ${c.instanceId} ${c.kind === 'gpu' ? 'GPU' : 'storage'} on machine ${c.machineId}`,
    quantity: r6((c.end - c.start) / 3_600_000),
    rate: c.rate,
    amount: r6(c.amount),
    timestamp: c.end / 1000,
    instance_id: volume ? null : c.instanceId,
    ...(volume ? { volume_id: c.instanceId } : {}),
    machine_id: c.machineId,
  };
}

/** A credit movement as a v0 invoice item: credit received is a "payment", credit sent a "charge". */
function transferItem(t: TransferRecord, me: number): Record<string, unknown> {
  const incoming = t.toAccountId === me;
  const other = incoming ? t.fromAccountId : t.toAccountId;
  return {
    id: t.id,
    type: incoming ? 'payment' : 'charge',
    description: incoming ? (other === null ? 'Credit deposit' : `Credit from user ${other}`) : `Credit sent to user ${other}`,
    quantity: 1,
    rate: t.amount,
    amount: incoming ? -t.amount : t.amount,
    timestamp: t.at / 1000,
    instance_id: null,
  };
}

/** A credit movement as a row of Vast's invoices table (`search invoices`). */
function invoiceRow(t: TransferRecord, me: number): Record<string, unknown> {
  const incoming = t.toAccountId === me;
  return {
    id: t.id,
    user_id: me,
    when: t.at / 1000,
    paid_on: t.at / 1000,
    payment_expected: null,
    amount_cents: Math.round(t.amount * 100) * (incoming ? 1 : -1),
    original_amount: Math.round(t.amount * 100),
    is_credit: incoming,
    is_delayed: false,
    service: t.fromAccountId === null ? 'deposit' : 'transfer',
    extra: { note: t.note, from_user: t.fromAccountId, to_user: t.toAccountId },
    failed: false,
    refunded: false,
    is_check: false,
  };
}

const INVOICE_FIELDS: Readonly<Record<string, FieldType>> = {
  id: 'number',
  user_id: 'number',
  when: 'number',
  paid_on: 'number',
  amount_cents: 'number',
  original_amount: 'number',
  is_credit: 'boolean',
  is_delayed: 'boolean',
  service: 'string',
  failed: 'boolean',
  refunded: 'boolean',
  is_check: 'boolean',
};

/** An own field's type only: a name such as `toString` is no field of an invoice. */
const invoiceFieldType = (f: string): FieldType | undefined => (Object.hasOwn(INVOICE_FIELDS, f) ? INVOICE_FIELDS[f] : undefined);

/** Epoch seconds from a query parameter (the clients send floats), as milliseconds. */
function msParam(q: Record<string, unknown>, field: string, fallback: number): number {
  return optEpochMs({ [field]: jsonParam(q[field]) }, field) ?? fallback;
}

/** Vast's two older billing views: `show invoices` (v0, charges and credits) and `search invoices`. */
export function vastInvoiceRoutes(app: FastifyInstance, control: ControlPlane): void {
  const b = control.accounts.billing;

  app.get('/api/v0/users/:id/invoices', async (req: Req) => {
    const p: Principal = principal(req);
    const q = req.query;
    const from = msParam(q, 'sdate', 0);
    const to = msParam(q, 'edate', control.now() + 1);
    const s = await b.statement(p, req.params.id ?? null, { from, to, limit: MAX_ROWS, charges: optBool(q, 'inc_charges') ?? true });
    const invoices = [...s.charges.map(chargeItem), ...s.transfers.map((t) => transferItem(t, p.accountId))].sort(
      (x, y) => (x.timestamp as number) - (y.timestamp as number),
    );
    const charged = r6(s.charges.reduce((sum, c) => sum + c.amount, 0));
    return {
      success: true,
      invoices,
      current: { charges: charged, service_fee: 0, total: charged, balance: r6(s.account.balance), credit: r6(s.account.balance) },
    };
  });

  app.get('/api/v0/invoices', async (req: Req) => {
    const p = principal(req);
    const raw = jsonParam(req.query.select_filters);
    const filters = raw === undefined || raw === null || raw === '' ? {} : asObject(raw, 'select_filters');
    // Fields Vast's invoices have and Gantry's do not (Stripe, PayPal, …) filter nothing out: no row has them.
    const conditions = Object.entries(filters).flatMap(([f, spec]) => {
      const type = invoiceFieldType(f);
      return type === undefined ? [] : parseCondition(f, type, spec);
    });
    const s = await b.statement(p, null, { from: 0, to: control.now() + 1, limit: MAX_ROWS, charges: false });
    const rows = s.transfers.map((t) => invoiceRow(t, p.accountId));
    return applyQuery(rows, { conditions, order: [], limit: null }, invoiceFieldType);
  });
}
