import type { FastifyInstance } from 'fastify';
import type { ControlPlane } from '../../../control/control-plane.js';
import type { WorkloadStop } from '../../../control/serverless/stop-workloads.js';
import { principal } from '../../edge/principal.js';
import { asObject, optNumber } from './parse.js';

/** How long the stop waits when the body names no timeout, in seconds. */
const DEFAULT_TIMEOUT_S = 60;

const ITEM_SCHEMA = {
  type: 'object',
  properties: {
    kind: { type: 'string', enum: ['endpoint', 'instance'] },
    id: { type: 'integer' },
    account_id: { type: 'integer' },
    name: { type: ['string', 'null'], description: "The endpoint's name or the instance's label" },
    status: { type: 'string', description: 'Its status when the call answered' },
    stopped: { type: 'boolean', description: 'At rest, as its runtime confirmed' },
    error: { type: ['string', 'null'], description: 'Why not: STOP_TIMEOUT (its stop goes on), STOP_FAILED, or the refusal' },
    msg: { type: ['string', 'null'] },
  },
  required: ['kind', 'id', 'account_id', 'name', 'status', 'stopped', 'error', 'msg'],
} as const;

const STOP_WORKLOADS_SCHEMA = {
  summary: "Gantry's own, admin only: stop every endpoint and instance of every account and wait until each is stopped",
  description:
    'What `gantry down --workloads` asks before it stops the server. Endpoints (and deployments) stop first, so no worker is recruited again; ' +
    'then every instance, through the normal stop (configuration kept; stopped once its runtime confirms). ' +
    'Answers once every item is stopped, failed, or at `timeout`; `complete` is true when all are stopped. Calling again is safe.',
  // Null allowed: a call without a body is one with the default timeout.
  body: {
    type: ['object', 'null'],
    properties: { timeout: { type: 'number', minimum: 0, maximum: 600, description: `Seconds to wait at most (default ${DEFAULT_TIMEOUT_S})` } },
  },
  response: {
    200: {
      type: 'object',
      properties: {
        success: { type: 'boolean' },
        complete: { type: 'boolean' },
        endpoints: { type: 'array', items: ITEM_SCHEMA },
        instances: { type: 'array', items: ITEM_SCHEMA },
      },
      required: ['success', 'complete', 'endpoints', 'instances'],
    },
  },
} as const;

const row = (i: WorkloadStop): Record<string, unknown> => ({
  kind: i.kind,
  id: i.id,
  account_id: i.accountId,
  name: i.name,
  status: i.status,
  stopped: i.stopped,
  error: i.error?.code ?? null,
  msg: i.error?.message ?? null,
});

/** Gantry's own routes beside Vast's: stopping everything this server runs (`gantry down --workloads`). */
export function vastWorkloadRoutes(app: FastifyInstance, control: ControlPlane): void {
  app.post('/api/v0/gantry/stop_workloads', { schema: STOP_WORKLOADS_SCHEMA }, async (req) => {
    const timeoutS = optNumber(asObject(req.body), 'timeout') ?? DEFAULT_TIMEOUT_S;
    const r = await control.stopWorkloads(principal(req), timeoutS * 1000);
    return {
      success: true,
      complete: r.complete,
      endpoints: r.items.filter((i) => i.kind === 'endpoint').map(row),
      instances: r.items.filter((i) => i.kind === 'instance').map(row),
    };
  });
}
