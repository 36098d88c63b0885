import type { IncomingMessage } from 'node:http';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { BulkItemResult } from '../../../control/bulk.js';
import type { StopRequest } from '../../../control/serverless/change-endpoint.js';
import type { DeploymentRef, DeploymentScope, DeploymentView } from '../../../control/serverless/deployments.js';
import { GantryError } from '../../../domain/errors.js';
import { callerGone } from '../../edge/caller-gone.js';
import type { EdgeDeps } from '../../edge/dialect.js';
import { principal } from '../../edge/principal.js';
import { aicoreDeployment, aicoreStatus, AICORE_STATUSES } from './deployment-map.js';
import { aicoreLogRoutes } from './deployment-logs.js';
import { aicoreErrorBody } from './errors.js';
import { aicoreMeta } from './meta.js';
import { csv, isoTime, oneOf, page, str } from './query.js';
import { resourceGroupOf } from './resource-group.js';
import { ID } from './catalog-schemas.js';

type Req = FastifyRequest<{ Params: Record<string, string>; Querystring: Record<string, unknown>; Body: unknown }>;

/** AI Core's ids (deployments, configurations, scenarios: the spec's `^[\w.-]{4,64}$`); Gantry's deployment ids are 16 hex digits. */
export const DEPLOYMENT_ID = new RegExp(ID);
const ID_SCHEMA = { type: 'string', pattern: ID } as const;
const TTL_SCHEMA = { type: ['string', 'null'], pattern: '^[0-9]+[mMhHdD]$' } as const;

/** A stop through AI Core finishes what the deployment accepted (in flight and queued), within the stopDrainTimeoutMs setting. */
const AICORE_STOP: StopRequest = { finishPendingWork: true, force: false, timeoutMs: null };

/**
 * Where AI Core looks deployments up: the request's resource group (inference calls without the header
 * mean `default`), among those made from a configuration. One made through another API (Vast's,
 * Elasticsearch's) is not AI Core's: not listed, and "not found" by id, so no AI Core call changes it.
 */
function scopeOf(req: FastifyRequest, o: { groupHeaderOptional?: boolean } = {}): DeploymentScope & { readonly fromConfiguration: true } {
  const optional = o.groupHeaderOptional === true && req.headers['ai-resource-group'] === undefined;
  return { resourceGroup: optional ? 'default' : resourceGroupOf(req), fromConfiguration: true };
}

/** The deployment a path names, in AI Core's scope of the request. */
export function deploymentRef(
  req: Req,
  o: { groupHeaderOptional?: boolean } = {},
): DeploymentRef & { readonly uid: string; readonly resourceGroup: string; readonly fromConfiguration: true } {
  const uid = req.params.id ?? '';
  if (!DEPLOYMENT_ID.test(uid))
    throw new GantryError('INVALID_ARGUMENT', `${JSON.stringify(uid.slice(0, 80))} is not a deployment id.`, { field: 'deploymentId' });
  return { uid, ...scopeOf(req, o) };
}

/** Deployments: create, list, count, read, stop, start (a Gantry extension), change configuration, delete, bulk changes; meta; logs; inference. */
export async function aicoreDeploymentRoutes(app: FastifyInstance, deps: EdgeDeps): Promise<void> {
  const { control } = deps;
  const sl = control.serverless;
  const base = (req: FastifyRequest): string => deps.publicUrl ?? `${req.protocol}://${req.host}`;

  app.get('/v2/lm/meta', async () => aicoreMeta(control.ctx.settings.deploymentTtlMinimumMs));

  app.post(
    '/v2/lm/deployments',
    {
      schema: {
        body: {
          type: 'object',
          required: ['configurationId'],
          additionalProperties: false,
          properties: { configurationId: ID_SCHEMA, ttl: TTL_SCHEMA },
        },
      },
    },
    async (req: Req, reply) => {
      const b = req.body as { configurationId: string; ttl?: string | null };
      const rg = resourceGroupOf(req);
      const v = await control.catalog.deployConfiguration(principal(req), { resourceGroup: rg, configurationId: b.configurationId, ttl: b.ttl ?? null });
      const id = v.deployment.uid;
      void reply.code(202).header('location', `/v2/lm/deployments/${id}`);
      return { id, message: 'Deployment scheduled.', deploymentUrl: '', status: aicoreStatus(v), ttl: v.deployment.ttl };
    },
  );

  const filtered = async (req: Req): Promise<DeploymentView[]> => {
    const q = req.query;
    const executableIds = csv(q, 'executableIds', 1000);
    const configurationId = str(q, 'configurationId', { pattern: DEPLOYMENT_ID });
    const scenarioId = str(q, 'scenarioId', { pattern: DEPLOYMENT_ID });
    const status = oneOf(q, 'status', AICORE_STATUSES);
    const all = await sl.listDeployments(principal(req), scopeOf(req));
    return all.filter((v) => {
      const s = v.deployment.source;
      if (executableIds !== undefined && !executableIds.includes(s?.executableId ?? '')) return false;
      if (configurationId !== undefined && s?.configurationId !== configurationId) return false;
      if (scenarioId !== undefined && s?.scenarioId !== scenarioId) return false;
      return status === undefined || aicoreStatus(v) === status;
    });
  };

  app.get('/v2/lm/deployments', async (req: Req) => {
    const { top, skip } = page(req.query, { max: 100_000, def: 10_000 });
    const select = oneOf(req.query, '$select', ['status'] as const);
    const rows = await filtered(req);
    const p = principal(req);
    const shown = async (v: DeploymentView) =>
      select === 'status'
        ? statusOnly(v)
        : aicoreDeployment(v, base(req), { withDetails: false, serving: await control.catalog.servingSource(p, v.deployment) });
    const resources = await Promise.all(rows.slice(skip, skip + top).map(shown));
    return { count: rows.length, resources };
  });

  app.get('/v2/lm/deployments/$count', async (req: Req, reply) => {
    return reply.type('text/plain').send(String((await filtered(req)).length));
  });

  app.get('/v2/lm/deployments/:id', async (req: Req) => {
    const v = await sl.showDeployment(principal(req), deploymentRef(req));
    if (oneOf(req.query, '$select', ['status'] as const) === 'status') return { ...statusOnly(v), statusDetails: {}, details: {} };
    return aicoreDeployment(v, base(req), { withDetails: true, serving: await control.catalog.servingSource(principal(req), v.deployment) });
  });

  app.patch(
    '/v2/lm/deployments/:id',
    {
      schema: {
        body: {
          type: 'object',
          additionalProperties: false,
          properties: { targetStatus: { type: 'string', enum: ['STOPPED', 'RUNNING'] }, configurationId: ID_SCHEMA },
        },
      },
    },
    async (req: Req, reply) => {
      const ref = deploymentRef(req);
      const b = (req.body ?? {}) as { targetStatus?: 'STOPPED' | 'RUNNING'; configurationId?: string };
      if (b.targetStatus !== undefined && b.configurationId !== undefined) {
        throw new GantryError('INVALID_ARGUMENT', 'Give either targetStatus or configurationId, not both.', { field: 'targetStatus' });
      }
      const p = principal(req);
      // AI Core's table (`strict`): a stop or start that would change nothing is refused (412).
      if (b.targetStatus === 'STOPPED') await sl.stopDeployment(p, ref, AICORE_STOP, { strict: true });
      else if (b.targetStatus === 'RUNNING') await sl.startDeployment(p, ref, { strict: true });
      else if (b.configurationId !== undefined) await control.catalog.deployOtherConfiguration(p, ref, b.configurationId);
      else throw new GantryError('MISSING_INPUT', 'Give targetStatus ("STOPPED") or configurationId.', { field: 'targetStatus' });
      return reply.code(202).send({ id: ref.uid, message: 'Deployment modification scheduled' });
    },
  );

  app.delete('/v2/lm/deployments/:id', async (req: Req, reply) => {
    const ref = deploymentRef(req);
    await sl.removeDeployment(principal(req), ref);
    return reply.code(202).send({ id: ref.uid, message: 'Deployment deletion scheduled', targetStatus: 'DELETED' });
  });

  app.patch(
    '/v2/lm/deployments',
    {
      schema: {
        body: {
          type: 'object',
          required: ['deployments'],
          additionalProperties: false,
          properties: {
            deployments: {
              type: 'array',
              minItems: 1,
              items: {
                type: 'object',
                required: ['id', 'targetStatus'],
                additionalProperties: false,
                properties: { id: ID_SCHEMA, targetStatus: { type: 'string', enum: ['STOPPED', 'DELETED'] } },
              },
            },
          },
        },
      },
    },
    async (req: Req, reply) => {
      const items = (req.body as { deployments: { id: string; targetStatus: 'STOPPED' | 'DELETED' }[] }).deployments;
      const results = await sl.changeDeployments(
        principal(req),
        scopeOf(req),
        items.map((i) => ({ uid: i.id, action: i.targetStatus === 'STOPPED' ? 'stop' : 'delete' })),
        AICORE_STOP,
      );
      const action = new Map(items.map((i) => [i.id, i.targetStatus]));
      return reply.code(202).send({ deployments: results.map((r) => bulkItem(r, action.get(r.id), req)) });
    },
  );

  aicoreLogRoutes(app, control);
  await inferenceRoutes(app, deps);
}

function statusOnly(v: DeploymentView): Record<string, unknown> {
  const d = v.deployment;
  return {
    id: d.uid,
    configurationId: d.source?.configurationId ?? '',
    status: aicoreStatus(v),
    createdAt: isoTime(d.createdAt),
    modifiedAt: isoTime(Math.max(d.updatedAt, v.endpoint.updatedAt)),
  };
}

/** One bulk result: the item's message, or its own error in AI Core's error shape. */
function bulkItem(r: BulkItemResult<string>, target: 'STOPPED' | 'DELETED' | undefined, req: FastifyRequest): Record<string, unknown> {
  if (r.error !== null) return { id: r.id, error: (aicoreErrorBody(r.error, 412, req) as { error: unknown }).error };
  return { id: r.id, message: target === 'DELETED' ? 'Deployment deletion scheduled' : 'Deployment modification scheduled' };
}

/** `{deploymentUrl}/<path>`, any method: through the gateway to the deployment's workers, bodies streamed. */
async function inferenceRoutes(app: FastifyInstance, deps: EdgeDeps): Promise<void> {
  await app.register(async (proxy) => {
    proxy.removeAllContentTypeParsers();
    proxy.addContentTypeParser('*', (_req, payload, done) => done(null, payload));
    const handler = async (req: Req, reply: FastifyReply): Promise<unknown> => {
      const ref = deploymentRef(req, { groupHeaderOptional: true });
      const url = new URL(req.url, 'http://x');
      const res = await deps.gateway.proxyDeployment(principal(req), ref, {
        method: req.method,
        path: `/${req.params['*'] ?? ''}${url.search}`,
        headers: req.headers,
        body: req.body === undefined || req.body === null ? null : (req.body as IncomingMessage),
        contentLength: typeof req.headers['content-length'] === 'string' ? req.headers['content-length'] : null,
        cost: 1,
        gone: callerGone(reply.raw),
      });
      return reply.code(res.status).headers(res.headers).send(res.body);
    };
    proxy.all('/v2/inference/deployments/:id', handler);
    proxy.all('/v2/inference/deployments/:id/*', handler);
  });
}
