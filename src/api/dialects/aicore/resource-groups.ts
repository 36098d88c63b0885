import type { FastifyInstance } from 'fastify';
import { parseLabelSelector, RESOURCE_GROUP_ID, type ResourceGroupLabel, type ResourceGroupRecord } from '../../../domain/account/resource-groups.js';
import { MAX_LABELS } from '../../../domain/labels.js';
import type { EdgeDeps } from '../../edge/dialect.js';
import { principal } from '../../edge/principal.js';

/** `/v2/admin/resourceGroups` as SAP's spec has it (BckndResourceGroup*); admin paths take no AI-Resource-Group header. */

/** The zone every group reports: Gantry is one identity zone (the service key's `identityzone`). */
const ZONE = 'gantry';

const LABELS = {
  type: 'array',
  maxItems: MAX_LABELS,
  items: {
    type: 'object',
    required: ['key', 'value'],
    additionalProperties: false,
    properties: {
      key: { type: 'string', maxLength: 63, pattern: '^ext.ai.sap.com/(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]){1,48}$' },
      value: { type: 'string', maxLength: 5000 },
    },
  },
} as const;

const ID_PARAMS = {
  type: 'object',
  required: ['resourceGroupId'],
  properties: { resourceGroupId: { type: 'string', minLength: 3, maxLength: 253, pattern: RESOURCE_GROUP_ID.source } },
} as const;

function base(g: ResourceGroupRecord): { resourceGroupId: string; tenantId: string; zoneId: string } {
  return { resourceGroupId: g.id, tenantId: String(g.accountId), zoneId: ZONE };
}

function view(g: ResourceGroupRecord): Record<string, unknown> {
  return { ...base(g), createdAt: new Date(g.createdAt).toISOString(), labels: g.labels, status: 'PROVISIONED', statusMessage: '' };
}

export function aicoreResourceGroupRoutes(app: FastifyInstance, { control }: EdgeDeps): void {
  const rg = control.accounts.resourceGroups;

  app.post(
    '/v2/admin/resourceGroups',
    {
      schema: {
        body: {
          type: 'object',
          required: ['resourceGroupId'],
          additionalProperties: false,
          properties: { resourceGroupId: ID_PARAMS.properties.resourceGroupId, labels: LABELS },
        },
      },
    },
    async (req, reply) => {
      const b = req.body as { resourceGroupId: string; labels?: ResourceGroupLabel[] };
      const g = await rg.createResourceGroup(principal(req), { id: b.resourceGroupId, labels: b.labels ?? [] });
      return reply.code(202).send(base(g));
    },
  );

  app.get(
    '/v2/admin/resourceGroups',
    {
      schema: {
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: {
            $top: { type: 'integer', minimum: 0 },
            $skip: { type: 'integer', minimum: 0 },
            $count: { type: 'boolean' },
            // Comma-joined terms (the SDKs send one parameter), or the parameter repeated.
            labelSelector: { type: 'array', minItems: 1, items: { type: 'string' } },
            continueToken: { type: 'string' },
          },
        },
      },
    },
    async (req) => {
      const q = req.query as { $top?: number; $skip?: number; $count?: boolean; labelSelector?: string[] };
      const { total, groups } = await rg.listResourceGroups(principal(req), {
        labels: parseLabelSelector(q.labelSelector ?? []),
        skip: q.$skip ?? 0,
        top: q.$top ?? null,
      });
      // $count=true: every match on the server; otherwise the items in this answer (the spec's rule).
      return { count: q.$count === true ? total : groups.length, resources: groups.map(view) };
    },
  );

  app.get('/v2/admin/resourceGroups/:resourceGroupId', { schema: { params: ID_PARAMS } }, async (req) => {
    const { resourceGroupId } = req.params as { resourceGroupId: string };
    return view(await rg.getResourceGroup(principal(req), resourceGroupId));
  });

  app.patch(
    '/v2/admin/resourceGroups/:resourceGroupId',
    { schema: { params: ID_PARAMS, body: { type: 'object', additionalProperties: false, properties: { labels: LABELS } } } },
    async (req, reply) => {
      const { resourceGroupId } = req.params as { resourceGroupId: string };
      const p = principal(req);
      const labels = (req.body as { labels?: ResourceGroupLabel[] } | undefined)?.labels;
      // No labels: nothing to change, but the group must still exist.
      if (labels === undefined) await rg.getResourceGroup(p, resourceGroupId);
      else await rg.relabelResourceGroup(p, resourceGroupId, labels);
      return reply.code(202).header('location', `/v2/admin/resourceGroups/${resourceGroupId}`).send();
    },
  );

  app.delete('/v2/admin/resourceGroups/:resourceGroupId', { schema: { params: ID_PARAMS } }, async (req, reply) => {
    const { resourceGroupId } = req.params as { resourceGroupId: string };
    await rg.deleteResourceGroup(principal(req), resourceGroupId);
    return reply.code(202).send({ id: resourceGroupId, message: 'Resource Group deletion scheduled' });
  });
}
