import type { FastifyInstance, FastifyRequest } from 'fastify';
import { principal } from '../../edge/principal.js';
import type { ControlPlane } from '../../../control/control-plane.js';
import type { PeriodQuery } from '../../../control/billing/billing.js';
import { GantryError } from '../../../domain/errors.js';
import { asObject, jsonParam, optDays, optId, optNumber, optString, parseId } from './parse.js';
import { numberOf } from '../../../domain/number.js';
import type { ChargeRecord } from '../../../domain/billing/records.js';
import { vastInvoiceRoutes } from './invoices.js';
import { onePage } from './page-token.js';

type Req = FastifyRequest<{ Params: Record<string, string>; Querystring: Record<string, unknown> }>;

const DAY_MS = 86_400_000;
/** Rows of one period a listing reads to page through and total (a period of more shows its newest this many). */
const PERIOD_ROWS = 10_000;
const r6 = (x: number): number => Math.round(x * 1e6) / 1e6;

/** Vast's select_filters for a period: {"when": {"gte": <s>, "lte": <s>}} (also "day", "start"); seconds or ms. */
function period(q: Record<string, unknown>, defaultLimit: number, now: number): PeriodQuery {
  const raw = jsonParam(q.select_filters);
  const f = raw === undefined || raw === null || raw === '' ? {} : asObject(raw, 'select_filters');
  const range = (f.when ?? f.day ?? f.start ?? f.end ?? {}) as Record<string, unknown>;
  const ms = (v: unknown, fallback: number): number => {
    if (v === undefined || v === null) return fallback;
    const n = typeof v === 'string' && v.trim() !== '' ? Number(v) : v;
    if (typeof n !== 'number' || !Number.isFinite(n)) throw new GantryError('INVALID_QUERY', 'select_filters: times must be numbers (epoch seconds).');
    return n < 1e11 ? n * 1000 : n; // epoch seconds as Vast sends them; milliseconds pass through
  };
  const limit = numberOf(jsonParam(q.limit) ?? defaultLimit);
  if (!Number.isInteger(limit) || limit < 1 || limit > 10_000) throw new GantryError('INVALID_ARGUMENT', 'limit must be an integer from 1 to 10000.');
  const instance = (f.instance_id as Record<string, unknown> | undefined)?.eq;
  return { from: ms(range.gte ?? range.gt, 0), to: ms(range.lte ?? range.lt, now + 1), limit, instanceId: typeof instance === 'number' ? instance : null };
}

const CHARGE_TYPES = new Set(['instance', 'volume', 'serverless']);

/** select_filters.type.in (the CLI's --charge-type): which contracts; null: all. */
function chargeTypes(q: Record<string, unknown>): Set<string> | null {
  const raw = jsonParam(q.select_filters);
  const f = raw === undefined || raw === null || raw === '' ? {} : asObject(raw, 'select_filters');
  if (f.type === undefined) return null;
  const list = (f.type as Record<string, unknown> | null)?.in;
  if (!Array.isArray(list) || list.some((t) => typeof t !== 'string' || !CHARGE_TYPES.has(t)))
    throw new GantryError('INVALID_QUERY', 'select_filters.type must be {"in": [...]} of "instance", "volume" and "serverless".', { field: 'select_filters' });
  return new Set(list as string[]);
}

/** A volume's charges (kind `volume`) are its own source, apart from any instance of the same number. */
const sourceOf = (c: ChargeRecord): string => (c.kind === 'volume' ? `volume-${c.instanceId}` : `instance-${c.instanceId}`);

/** Vast's per-line text ("96.000 hours at $0.389/hour"); the CLI's tree format prints it on every line. */
const describe = (c: ChargeRecord): string => `${c.kind}: ${((c.end - c.start) / 3_600_000).toFixed(3)} hours at $${c.rate}/hour`;

function chargeItem(c: ChargeRecord): Record<string, unknown> {
  return {
    start: c.start / 1000,
    end: c.end / 1000,
    type: c.kind,
    source: sourceOf(c),
    description: describe(c),
    amount: r6(c.amount),
    rate: c.rate,
    metadata: { instance_id: c.instanceId, machine_id: c.machineId },
    items: [],
  };
}

/** Charges grouped per instance, each with its gpu/disk stretches (Vast's "tree" format). */
function tree(charges: readonly ChargeRecord[]): Record<string, unknown>[] {
  const by = new Map<string, ChargeRecord[]>();
  for (const c of charges) by.set(sourceOf(c), [...(by.get(sourceOf(c)) ?? []), c]);
  return [...by.entries()].map(([source, cs]) => ({
    start: Math.min(...cs.map((c) => c.start)) / 1000,
    end: Math.max(...cs.map((c) => c.end)) / 1000,
    type: cs[0]?.kind === 'volume' ? 'volume' : 'instance',
    source,
    description: `${cs[0]?.kind === 'volume' ? 'Volume' : 'Instance'} ${cs[0]?.instanceId ?? ''} charges`,
    amount: r6(cs.reduce((s, c) => s + c.amount, 0)),
    metadata: cs[0]?.kind === 'volume' ? { volume_id: cs[0].instanceId } : { instance_id: cs[0]?.instanceId },
    items: cs.map(chargeItem),
  }));
}

function sumBy(charges: readonly ChargeRecord[], key: (c: ChargeRecord) => number, label: string): Record<string, unknown>[] {
  const m = new Map<number, { gpu: number; disk: number }>();
  for (const c of charges) {
    const e = m.get(key(c)) ?? { gpu: 0, disk: 0 };
    e[c.kind === 'gpu' ? 'gpu' : 'disk'] += c.amount; // a volume is storage
    m.set(key(c), e);
  }
  return [...m.entries()].sort((a, b) => a[0] - b[0]).map(([k, e]) => ({ [label]: k, gpu_earn: r6(e.gpu), sto_earn: r6(e.disk), bwu_earn: 0, bwd_earn: 0 }));
}

/** Charges, invoices (credit movements), deposits, credit transfers and host earnings. */
export function vastBillingRoutes(app: FastifyInstance, control: ControlPlane): void {
  const b = control.accounts.billing;
  const now = (): number => control.now();
  vastInvoiceRoutes(app, control);

  app.get('/api/v0/charges', async (req: Req) => {
    const p = principal(req);
    const types = chargeTypes(req.query);
    const workers = types !== null && (types.has('serverless') || types.has('instance')) ? await b.workerInstanceIds(p) : new Set<number>();
    const typeOf = (c: ChargeRecord): string => (c.kind === 'volume' ? 'volume' : workers.has(c.instanceId) ? 'serverless' : 'instance');
    // `limit` is the page; every row of the period (up to PERIOD_ROWS) is read, so that `total` and `total_amount`
    // are the period's, not the page's (the CLI prints "Showing N of TOTAL results" and offers the next page).
    const q = period(req.query, 100, now());
    const charges = (await b.listCharges(p, { ...q, limit: PERIOD_ROWS })).filter((c) => types === null || types.has(typeOf(c)));
    // The tree format's rows are its groups (one per instance or volume): a page holds whole groups.
    const rows = (jsonParam(req.query.format) ?? 'table') === 'tree' ? tree(charges) : charges.map(chargeItem);
    const { page: results, next } = onePage(rows, req.query.after_token, q.limit);
    const totalAmount = r6(charges.reduce((s, c) => s + c.amount, 0));
    return { success: true, count: results.length, total: rows.length, total_amount: totalAmount, next_token: next, results };
  });

  app.get('/api/v1/invoices', async (req: Req) => {
    const p = principal(req);
    const q = period(req.query, 60, now());
    const all = await b.listTransfers(p, { ...q, limit: PERIOD_ROWS });
    const { page: rows, next } = onePage(all, req.query.after_token, q.limit);
    const results = rows.map((t) => ({
      start: t.at / 1000,
      end: t.at / 1000,
      type: t.toAccountId === p.accountId ? (t.fromAccountId === null ? 'deposit' : 'transfer_in') : 'transfer_out',
      source: t.fromAccountId === null ? 'admin' : `user-${t.toAccountId === p.accountId ? t.fromAccountId : t.toAccountId}`,
      amount: t.toAccountId === p.accountId ? t.amount : -t.amount,
      metadata: { invoice_id: t.id, service: 'credit', note: t.note },
      items: [],
    }));
    return { success: true, count: results.length, total: all.length, next_token: next, results };
  });

  app.put('/api/v0/commands/transfer_credit', async (req) => {
    const p = principal(req);
    const body = asObject(req.body);
    const recipient = optString(body, 'recipient');
    const amount = optNumber(body, 'amount');
    if (recipient === null || recipient === '' || amount === null) {
      throw new GantryError('INVALID_ARGUMENT', "'recipient' and 'amount' are required.", { field: 'recipient' });
    }
    const t = await b.transferCredit(p, recipient, amount);
    return { success: true, transfer_id: t.id, amount: t.amount, recipient_id: t.toAccountId };
  });

  app.get('/api/v0/users/:id/machine-earnings', async (req: Req) => {
    const p = principal(req);
    const q = req.query;
    const t = now();
    // Days since the epoch (the clients send fractions: time.time()/86400 - 1), bounded as epoch seconds are.
    const lastDays = optDays(q, 'last_days');
    const sday = optDays(q, 'sday');
    const eday = optDays(q, 'eday');
    const from = lastDays !== null ? t - Math.round(lastDays * DAY_MS) : sday !== null ? Math.round(sday * DAY_MS) : 0;
    const to = eday !== null ? Math.round((eday + 1) * DAY_MS) : t + 1;
    // The clients send `/users/me/...` and `machid=null` when no machine is named.
    const user = req.params.id === 'me' ? p.accountId : parseId(req.params.id, 'user id');
    const e = await b.machineEarnings(p, user, { from, to, limit: 100_000, machineId: optId({ machid: jsonParam(q.machid) }, 'machid', 'machine id') });
    const total = e.charges.reduce((s, c) => s + c.amount, 0);
    return {
      username: e.account.username,
      email: e.account.email,
      fullname: e.account.fullname ?? e.account.username,
      current: { balance: r6(e.account.balance), service_fee: 0, total: r6(total), credit: r6(e.account.balance) },
      per_machine: sumBy(e.charges, (c) => c.machineId, 'machine_id'),
      per_day: sumBy(e.charges, (c) => Math.floor(c.start / DAY_MS), 'day'),
    };
  });
}
