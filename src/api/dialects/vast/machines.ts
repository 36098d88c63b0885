import type { FastifyInstance, FastifyRequest } from 'fastify';
import { principal } from '../../edge/principal.js';
import type { ControlPlane } from '../../../control/control-plane.js';
import { GantryError } from '../../../domain/errors.js';
import type { ListingRequest } from '../../../domain/machine/listing.js';
import { vastMachine } from './map.js';
import { asObject, MAX_EPOCH_S, optEpochMs, optNumber, optString, parseId } from './parse.js';
import { showValue } from '../../../domain/show.js';

type Req = FastifyRequest<{ Params: Record<string, string>; Querystring: Record<string, unknown> }>;

/** Vast's end_date and sdate are epoch seconds; an ISO date is accepted too. */
function epochMs(v: unknown, field: string): number | null {
  if (v === undefined || v === null || v === '') return null;
  const n = typeof v === 'number' ? v : typeof v === 'string' && Number.isFinite(Number(v)) ? Number(v) : null;
  if (n !== null) return optEpochMs({ [field]: n }, field);
  const d = typeof v === 'string' ? Date.parse(v) : NaN;
  if (Number.isFinite(d) && d >= 0 && d <= MAX_EPOCH_S * 1000) return d;
  throw new GantryError('INVALID_ARGUMENT', `'${field}' must be epoch seconds or an ISO date (up to year 9999), got ${showValue(v)}.`, { field });
}

/** Vast's listing fields → the core's; absent fields keep their stored values. */
const LISTING_FIELDS = [
  ['price_gpu', 'priceGpuPerHour'],
  ['price_disk', 'priceDiskPerGbMonth'],
  ['price_inetu', 'priceInetUpPerGb'],
  ['price_inetd', 'priceInetDownPerGb'],
  ['price_min_bid', 'minBidPerGpuHour'],
  ['min_chunk', 'minChunk'],
] as const;

function listingOf(body: Record<string, unknown>): ListingRequest {
  const out: { -readonly [K in keyof ListingRequest]: ListingRequest[K] } = {};
  for (const [field, key] of LISTING_FIELDS) {
    const v = optNumber(body, field);
    if (v !== null) out[key] = v;
  }
  const end = epochMs(body.end_date, 'end_date');
  if (end !== null) out.endDate = end;
  const discount = optNumber(body, 'discount_rate') ?? optNumber(body, 'credit_discount_max');
  if (discount !== null) out.discountRate = discount;
  return out;
}

/** Host side of the Vast dialect: show/list/unlist machines, maintenance windows, min bid, verify, host tokens. */
export function vastMachineRoutes(app: FastifyInstance, control: ControlPlane): void {
  const ctime = (): number => control.now() / 1000;

  app.get('/api/v0/machines', async (req: Req) => {
    const p = principal(req);
    const userId = req.query.user_id === undefined || req.query.user_id === '' ? null : parseId(req.query.user_id, 'user_id');
    return { machines: (await control.listOwnMachines(p, userId)).map(vastMachine) };
  });

  app.put('/api/v0/machines/create_asks', async (req) => {
    const p = principal(req);
    const body = asObject(req.body);
    const id = parseId(body.machine ?? body.machine_id, 'machine');
    const r = await control.listMachine(p, id, listingOf(body));
    return { success: true, extended: r.extended };
  });

  app.delete('/api/v0/machines/:id/asks', async (req: Req) => {
    const p = principal(req);
    const m = await control.unlistMachine(p, parseId(req.params.id, 'machine id'));
    return { success: true, machine_id: m.id, user_id: m.ownerId };
  });

  app.put('/api/v0/machines/:id/dnotify', async (req: Req) => {
    const p = principal(req);
    const body = asObject(req.body);
    const startMs = epochMs(body.sdate, 'sdate');
    const duration = optNumber(body, 'duration');
    if (startMs === null || duration === null) throw new GantryError('INVALID_ARGUMENT', "Give 'sdate' (epoch seconds) and 'duration' (hours).");
    const reason = [optString(body, 'maintenance_category'), optString(body, 'maintenance_reason')].filter((x) => x !== null).join(': ') || null;
    const r = await control.scheduleMaintenance(p, parseId(req.params.id, 'machine id'), { startMs, durationHours: duration, reason });
    return { success: true, you_sent: `${r.notified} notifications sent` };
  });

  app.put('/api/v0/machines/:id/cancel_maint', async (req: Req) => {
    const p = principal(req);
    const id = parseId(req.params.id, 'machine id');
    const r = await control.cancelMaintenance(p, id);
    return { success: true, ctime: ctime(), machine_id: id, msg: `deleted ${r.cancelled} scheduled maintenance window(s) on machine ${id}` };
  });

  app.put('/api/v0/machines/:id/minbid', async (req: Req) => {
    const p = principal(req);
    const body = asObject(req.body);
    const price = optNumber(body, 'price');
    if (price === null) throw new GantryError('INVALID_ARGUMENT', "Give 'price' ($ per GPU per hour).", { field: 'price' });
    await control.setMinBid(p, parseId(req.params.id, 'machine id'), price);
    return { success: true, you_sent: body };
  });

  app.put('/api/v0/machines/:id/verify', async (req: Req) => {
    const p = principal(req);
    const body = asObject(req.body);
    const v = body.verified ?? true;
    if (typeof v !== 'boolean') throw new GantryError('INVALID_ARGUMENT', "'verified' must be true or false.", { field: 'verified' });
    await control.verifyMachine(p, parseId(req.params.id, 'machine id'), v);
    return { success: true };
  });

  // Gantry's own: a token for `gantry agent` to join as one machine of the caller's account.
  app.post('/api/v0/host_tokens', async (req) => {
    const p = principal(req);
    const { token, record } = await control.createHostToken(p, optString(asObject(req.body), 'name'));
    return { success: true, id: record.id, name: record.name, token };
  });
}
