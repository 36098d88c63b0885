import type { FastifyInstance } from 'fastify';
import { principal } from '../../edge/principal.js';
import type { EdgeDeps } from '../../edge/dialect.js';
import { applicationBody, applicationStatusBody, executableBody, scenarioBody, versionBody } from './catalog-map.js';
import { splitCsv } from './query.js';
import { applicationBodySchema, applicationParams, applicationPatchSchema, ID, templatesBodySchema } from './catalog-schemas.js';
import { aicoreConfigurationRoutes } from './configurations.js';
import { resourceGroupOf } from './resource-group.js';

type Files = { files: { name: string; content: string }[] };
type AppBody = { applicationName?: string; repositoryUrl: string; path: string; revision?: string };

const list = <T>(rows: readonly T[], map: (r: T) => unknown) => ({ count: rows.length, resources: rows.map(map) });

/**
 * Scenarios, executables, versions and models (`/v2/lm/scenarios...`), serving templates
 * (`POST /v2/admin/servingTemplates`, a Gantry extension: AI Core only syncs them from git) and
 * applications (`/v2/admin/applications...`), then configurations and artifacts.
 */
export function aicoreCatalogRoutes(app: FastifyInstance, deps: EdgeDeps): void {
  const c = deps.control.catalog;
  const scenarioParams = { type: 'object', properties: { scenarioId: { type: 'string', pattern: ID }, executableId: { type: 'string', pattern: ID } } };

  app.post<{ Body: Files }>('/v2/admin/servingTemplates', { schema: { body: templatesBodySchema } }, async (req, reply) => {
    const rows = await c.loadServingTemplates(principal(req), req.body.files);
    return reply.code(201).send({ ...list(rows, executableBody), message: `${rows.length} executable(s) loaded` });
  });

  app.post<{ Body: AppBody }>('/v2/admin/applications', { schema: { body: applicationBodySchema } }, async (req) => {
    const b = req.body;
    const a = await c.createApplication(principal(req), {
      applicationName: b.applicationName ?? null,
      repositoryUrl: b.repositoryUrl,
      path: b.path,
      revision: b.revision ?? null,
    });
    return { id: a.name, message: 'Application has been successfully created.' };
  });
  app.get('/v2/admin/applications', async (req) => list(await c.listApplications(principal(req)), applicationBody));
  app.get<{ Params: { name: string } }>('/v2/admin/applications/:name', { schema: { params: applicationParams } }, async (req) =>
    applicationBody(await c.getApplication(principal(req), req.params.name)),
  );
  app.get<{ Params: { name: string } }>('/v2/admin/applications/:name/status', { schema: { params: applicationParams } }, async (req) =>
    applicationStatusBody(await c.getApplication(principal(req), req.params.name)),
  );
  app.patch<{ Params: { name: string }; Body: AppBody }>(
    '/v2/admin/applications/:name',
    { schema: { params: applicationParams, body: applicationPatchSchema } },
    async (req) => {
      const b = req.body;
      const a = await c.updateApplication(principal(req), req.params.name, { repositoryUrl: b.repositoryUrl, path: b.path, revision: b.revision ?? null });
      return { id: a.name, message: 'Application has been successfully updated.' };
    },
  );
  // Gantry syncs at once (AI Core only schedules it): the answer comes after the sync, 202 as in the spec.
  app.post<{ Params: { name: string } }>('/v2/admin/applications/:name/refresh', { schema: { params: applicationParams } }, async (req, reply) => {
    const a = await c.refreshApplication(principal(req), req.params.name);
    return reply.code(202).send({ id: a.name, message: 'Sync of the application has been triggered.' });
  });
  app.delete<{ Params: { name: string } }>('/v2/admin/applications/:name', { schema: { params: applicationParams } }, async (req) => {
    await c.deleteApplication(principal(req), req.params.name);
    return { id: req.params.name, message: 'Application has been successfully deleted.' };
  });

  app.get('/v2/lm/scenarios', async (req) => list(await c.listScenarios(principal(req), resourceGroupOf(req)), scenarioBody));
  app.get<{ Params: { scenarioId: string } }>('/v2/lm/scenarios/:scenarioId', { schema: { params: scenarioParams } }, async (req) =>
    scenarioBody(await c.getScenario(principal(req), resourceGroupOf(req), req.params.scenarioId)),
  );
  app.get<{ Params: { scenarioId: string }; Querystring: { versionId?: string } }>(
    '/v2/lm/scenarios/:scenarioId/executables',
    { schema: { params: scenarioParams, querystring: { type: 'object', properties: { versionId: { type: 'string', maxLength: 256 } } } } },
    async (req) => list(await c.listExecutables(principal(req), resourceGroupOf(req), req.params.scenarioId, req.query.versionId ?? null), executableBody),
  );
  app.get<{ Params: { scenarioId: string; executableId: string } }>(
    '/v2/lm/scenarios/:scenarioId/executables/:executableId',
    { schema: { params: scenarioParams } },
    async (req) => executableBody(await c.getExecutable(principal(req), resourceGroupOf(req), req.params.scenarioId, req.params.executableId)),
  );
  app.get<{ Params: { scenarioId: string }; Querystring: { labelSelector?: string } }>(
    '/v2/lm/scenarios/:scenarioId/versions',
    { schema: { params: scenarioParams, querystring: { type: 'object', properties: { labelSelector: { type: 'string', maxLength: 50000 } } } } },
    async (req) => list(await c.listVersions(principal(req), resourceGroupOf(req), req.params.scenarioId, splitCsv(req.query.labelSelector)), versionBody),
  );
  app.get<{ Params: { scenarioId: string } }>('/v2/lm/scenarios/:scenarioId/models', { schema: { params: scenarioParams } }, async (req) =>
    list(await c.listModels(principal(req), resourceGroupOf(req), req.params.scenarioId), (m) => m),
  );

  aicoreConfigurationRoutes(app, deps);
}
