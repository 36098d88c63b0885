import type { FastifyInstance } from 'fastify';
import { GantryError } from '../../../domain/errors.js';
import type { Search } from '../../../domain/catalog/views.js';
import type { EdgeDeps } from '../../edge/dialect.js';
import { principal } from '../../edge/principal.js';
import { artifactBody, configurationBody } from './catalog-map.js';
import { splitCsv } from './query.js';
import { artifactBodySchema, configurationBodySchema, ID, pageQuery, searchQuery } from './catalog-schemas.js';
import { resourceGroupOf } from './resource-group.js';

interface ConfigQuery {
  scenarioId?: string;
  executableIds?: string;
  $search?: string;
  searchCaseInsensitive?: boolean;
  $top?: number;
  $skip?: number;
  $expand?: 'scenario';
}

interface ArtifactQuery extends ConfigQuery {
  name?: string;
  kind?: string;
  artifactLabelSelector?: string;
}

type ConfigBody = {
  name: string;
  executableId: string;
  scenarioId: string;
  parameterBindings?: { key: string; value: string }[];
  inputArtifactBindings?: { key: string; artifactId: string }[];
};
type ArtifactBody = { name: string; kind: string; url: string; scenarioId: string; description?: string; labels?: { key: string; value: string }[] };

const filterProps = {
  scenarioId: { type: 'string', pattern: ID },
  executableIds: { type: 'string', maxLength: 70000 },
  ...searchQuery,
  $expand: { type: 'string', enum: ['scenario'] },
} as const;
const configQuery = { type: 'object', properties: { ...filterProps, ...pageQuery } } as const;
const configCountQuery = { type: 'object', properties: filterProps } as const;
const artifactFilter = {
  ...filterProps,
  name: { type: 'string', maxLength: 256 },
  kind: { type: 'string', enum: ['model', 'dataset', 'resultset', 'other'] },
  artifactLabelSelector: { type: 'string', maxLength: 50000 },
  executionId: { type: 'string', pattern: ID },
} as const;
const artifactQuery = { type: 'object', properties: { ...artifactFilter, ...pageQuery } } as const;
const idParams = (name: string) => ({ type: 'object', properties: { [name]: { type: 'string', pattern: ID } } });

/** An empty `executableIds=` is no filter, as on the deployments list. */
function executableIds(v: string | undefined): string[] | null {
  if (v === undefined || v.trim() === '') return null;
  const ids = splitCsv(v);
  if (ids.length > 1000) throw new GantryError('INVALID_ARGUMENT', 'executableIds holds at most 1000 ids.', { field: 'executableIds' });
  for (const id of ids)
    if (!new RegExp(ID).test(id)) throw new GantryError('INVALID_ARGUMENT', `executableIds: '${id}' is not an executable id.`, { field: 'executableIds' });
  return ids;
}

const search = (q: ConfigQuery): Search => ({ text: q.$search ?? null, caseInsensitive: q.searchCaseInsensitive === true });
const page = (q: ConfigQuery) => ({ top: q.$top ?? 10000, skip: q.$skip ?? 0 });

/** Configurations and artifacts: per account and resource group. */
export function aicoreConfigurationRoutes(app: FastifyInstance, deps: EdgeDeps): void {
  const c = deps.control.catalog;
  const configFilter = (q: ConfigQuery) => ({ scenarioId: q.scenarioId ?? null, executableIds: executableIds(q.executableIds), search: search(q) });
  const artFilter = (q: ArtifactQuery) => ({
    scenarioId: q.scenarioId ?? null,
    name: q.name ?? null,
    kind: q.kind ?? null,
    labelSelector: splitCsv(q.artifactLabelSelector),
    search: search(q),
  });

  app.post<{ Body: ConfigBody }>('/v2/lm/configurations', { schema: { body: configurationBodySchema } }, async (req, reply) => {
    const b = req.body;
    const cfg = await c.createConfiguration(principal(req), resourceGroupOf(req), {
      name: b.name,
      executableId: b.executableId,
      scenarioId: b.scenarioId,
      parameterBindings: b.parameterBindings ?? [],
      inputArtifactBindings: b.inputArtifactBindings ?? [],
    });
    return reply.code(201).header('location', `/v2/lm/configurations/${cfg.id}`).send({ id: cfg.id, message: 'Configuration created' });
  });
  app.get<{ Querystring: ConfigQuery }>('/v2/lm/configurations', { schema: { querystring: configQuery } }, async (req) => {
    const p = principal(req);
    const rg = resourceGroupOf(req);
    const r = await c.listConfigurations(p, rg, { ...configFilter(req.query), page: page(req.query) });
    const expand = req.query.$expand === 'scenario';
    const scenarios = expand ? new Map((await c.listScenarios(p, rg)).map((s) => [s.id, s])) : null;
    return { count: r.count, resources: r.resources.map((x) => configurationBody(x, scenarios === null ? undefined : (scenarios.get(x.scenarioId) ?? null))) };
  });
  app.get<{ Querystring: ConfigQuery }>('/v2/lm/configurations/$count', { schema: { querystring: configCountQuery } }, async (req, reply) => {
    const n = await c.countConfigurations(principal(req), resourceGroupOf(req), configFilter(req.query));
    return reply.type('text/plain').send(String(n));
  });
  app.get<{ Params: { configurationId: string }; Querystring: ConfigQuery }>(
    '/v2/lm/configurations/:configurationId',
    { schema: { params: idParams('configurationId'), querystring: { type: 'object', properties: { $expand: filterProps.$expand } } } },
    async (req) => {
      const p = principal(req);
      const rg = resourceGroupOf(req);
      const cfg = await c.getConfiguration(p, rg, req.params.configurationId);
      return configurationBody(cfg, req.query.$expand === 'scenario' ? await c.findScenario(p, rg, cfg.scenarioId) : undefined);
    },
  );

  app.post<{ Body: ArtifactBody }>('/v2/lm/artifacts', { schema: { body: artifactBodySchema } }, async (req, reply) => {
    const b = req.body;
    const a = await c.createArtifact(principal(req), resourceGroupOf(req), {
      name: b.name,
      kind: b.kind,
      url: b.url,
      scenarioId: b.scenarioId,
      description: b.description ?? null,
      labels: b.labels ?? [],
    });
    return reply.code(201).header('location', `/v2/lm/artifacts/${a.id}`).send({ id: a.id, message: 'Artifact acknowledged', url: a.url });
  });
  app.get<{ Querystring: ArtifactQuery }>('/v2/lm/artifacts', { schema: { querystring: artifactQuery } }, async (req) => {
    const p = principal(req);
    const rg = resourceGroupOf(req);
    const r = await c.listArtifacts(p, rg, { ...artFilter(req.query), page: page(req.query) });
    const scenarios = req.query.$expand === 'scenario' ? new Map((await c.listScenarios(p, rg)).map((s) => [s.id, s])) : null;
    return { count: r.count, resources: r.resources.map((x) => artifactBody(x, scenarios === null ? undefined : (scenarios.get(x.scenarioId) ?? null))) };
  });
  app.get<{ Querystring: ArtifactQuery }>(
    '/v2/lm/artifacts/$count',
    { schema: { querystring: { type: 'object', properties: artifactFilter } } },
    async (req, reply) => {
      const n = await c.countArtifacts(principal(req), resourceGroupOf(req), artFilter(req.query));
      return reply.type('text/plain').send(String(n));
    },
  );
  app.get<{ Params: { artifactId: string }; Querystring: ArtifactQuery }>(
    '/v2/lm/artifacts/:artifactId',
    { schema: { params: idParams('artifactId'), querystring: { type: 'object', properties: { $expand: filterProps.$expand } } } },
    async (req) => {
      const p = principal(req);
      const rg = resourceGroupOf(req);
      const a = await c.getArtifact(p, rg, req.params.artifactId);
      return artifactBody(a, req.query.$expand === 'scenario' ? await c.findScenario(p, rg, a.scenarioId) : undefined);
    },
  );
}
