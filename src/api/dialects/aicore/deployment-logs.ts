import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { ControlPlane } from '../../../control/control-plane.js';
import { GantryError } from '../../../domain/errors.js';
import { principal } from '../../edge/principal.js';
import { deploymentRef } from './deployments.js';
import { oneOf, str } from './query.js';

type Req = FastifyRequest<{ Params: Record<string, string>; Querystring: Record<string, unknown> }>;

const HOUR_MS = 3_600_000;

function time(q: Record<string, unknown>, name: string, def: number): number {
  const v = str(q, name, { maxLength: 64 });
  if (v === undefined) return def;
  const ms = Date.parse(v);
  if (!Number.isFinite(ms) || !/^\d{4}-\d{2}-\d{2}T/.test(v)) {
    throw new GantryError('INVALID_ARGUMENT', `'${name}' must be an RFC 3339 time such as 2026-12-02T08:00:00Z; got ${JSON.stringify(v)}.`, { field: name });
  }
  return ms;
}

/** `GET /v2/lm/deployments/{id}/logs`: the workers' real output, by time, as AI Core's log lines. */
export function aicoreLogRoutes(app: FastifyInstance, control: ControlPlane): void {
  app.get('/v2/lm/deployments/:id/logs', async (req: Req) => {
    const q = req.query;
    const topText = str(q, '$top') ?? '1000';
    const top = Number(topText);
    if (!/^[0-9]+$/.test(topText) || top < 1 || top > 5000)
      throw new GantryError('INVALID_ARGUMENT', `'$top' must be an integer from 1 to 5000; got ${JSON.stringify(topText)}.`, { field: '$top' });
    const now = control.now();
    const end = time(q, 'end', now);
    const start = time(q, 'start', end - HOUR_MS);
    if (start > end) throw new GantryError('INVALID_ARGUMENT', "'start' must not be after 'end'.", { field: 'start' });
    const order = oneOf(q, '$order', ['asc', 'desc'] as const) ?? 'asc';
    const ref = deploymentRef(req as never);
    const lines = await control.serverless.deploymentLogs(principal(req), ref, { top, since: start, until: end, order });
    return {
      data: {
        result: lines.map((l) => ({
          timestamp: new Date(l.at).toISOString(),
          msg: `${l.text}\n`,
          stream: l.stream,
          container: 'kserve-container',
          pod: `${ref.uid}-predictor-${l.workerId}`,
        })),
      },
    };
  });
}
