import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { ControlPlane } from '../../../control/control-plane.js';
import { principal } from '../../edge/principal.js';
import { asObject, optNumber, parseId } from './parse.js';

type Req = FastifyRequest<{ Params: Record<string, string> }>;
const r6 = (x: number): number => Math.round(x * 1e6) / 1e6;

/** `change bid`, `prepay instance` and `show deposit`: interruptible and reserved instances. */
export function vastBidRoutes(app: FastifyInstance, control: ControlPlane): void {
  // Both CLIs and the SDK: {"client_id": "me", "price": <$/hour for the instance, or null: the minimum>}.
  app.put('/api/v0/instances/bid_price/:id', async (req: Req) => {
    const id = parseId(req.params.id);
    const inst = await control.changeBid(principal(req), id, optNumber(asObject(req.body), 'price'));
    const waiting = inst.gpuWaitSince !== null && inst.target === 'running';
    return {
      success: true,
      msg: `bid of instance ${id} is now $${r6(inst.bidPrice ?? inst.dphBase)}/hour${waiting ? `; ${inst.statusMsg ?? 'waiting for GPUs'}` : ''}`,
      dph_base: r6(inst.dphBase),
      is_bid: true,
    };
  });

  // {"amount": <$>}; the CLIs print timescale (months) and discount_rate.
  app.put('/api/v0/instances/prepay/:id', async (req: Req) => {
    const d = await control.prepayInstance(principal(req), parseId(req.params.id), optNumber(asObject(req.body), 'amount'));
    return { success: true, timescale: d.months, discount_rate: d.discount, refundable_deposit: r6(d.deposit) };
  });

  app.get('/api/v0/instances/balance/:id', async (req: Req) => {
    const d = await control.showDeposit(principal(req), parseId(req.params.id));
    return {
      success: true,
      refundable_deposit: r6(d.deposit),
      total_discount: d.discount,
      discount_months: Math.round(d.months * 1000) / 1000,
    };
  });
}
