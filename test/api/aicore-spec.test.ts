import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { chatServingTemplate, EXAMPLES_DIR, lm } from '../helpers/aicore.js';
import { specProblems } from '../helpers/aicore-spec.js';
import { startTestGantry, type TestGantry } from '../helpers/gantry.js';
import { SERVERLESS_FAST, until } from '../helpers/serverless.js';
import { TEST_STORES } from '../helpers/stores.js';

/** Gantry's AI Core answers, checked against SAP's OpenAPI spec of the AI API (`../shared/reference`). */
function conforms(schema: string, body: unknown): void {
  const problems = specProblems(schema, body);
  if (problems === null) return; // a clone without ../shared: the shape tests elsewhere still run
  assert.deepEqual(problems, [], `${schema}: ${JSON.stringify(body).slice(0, 400)}`);
}

const ts = TEST_STORES[0];
describe('AI Core answers conform to the AI API spec', { skip: ts?.skip ?? 'no store' }, () => {
  let g: TestGantry;
  let key: string;
  const call = (method: string, path: string, body?: unknown, o?: { group?: string | null; contentType?: string }) => lm(g, key, method, path, body, o);

  before(async () => {
    g = await startTestGantry(ts!, { gpus: '2x RTX 4090:24GB', settings: { ...SERVERLESS_FAST, workerProbeTimeoutMs: 2000 } });
    key = g.adminKey as string;
    const t = await call('POST', '/v2/admin/servingTemplates', { files: [{ name: 'chat.yaml', content: await chatServingTemplate() }] }, { group: null });
    assert.equal(t.status, 201, t.text);
  });
  after(() => g.dispose());

  it('meta, resource groups, scenarios, executables, configurations, deployments, logs, bulk, delete', async () => {
    conforms('MetaCapabilities', (await call('GET', '/v2/lm/meta')).body);
    conforms('BckndResourceGroupList', (await call('GET', '/v2/admin/resourceGroups', undefined, { group: null })).body);
    conforms('BckndResourceGroup', (await call('GET', '/v2/admin/resourceGroups/default', undefined, { group: null })).body);
    conforms('AiScenarioList', (await call('GET', '/v2/lm/scenarios')).body);
    conforms('AiScenario', (await call('GET', '/v2/lm/scenarios/foundation-models')).body);
    conforms('AiExecutableList', (await call('GET', '/v2/lm/scenarios/foundation-models/executables')).body);
    conforms('AiExecutable', (await call('GET', '/v2/lm/scenarios/foundation-models/executables/azure-openai')).body);
    conforms('AiVersionList', (await call('GET', '/v2/lm/scenarios/foundation-models/versions')).body);

    const c = await call('POST', '/v2/lm/configurations', {
      name: 'spec-chat',
      scenarioId: 'foundation-models',
      executableId: 'azure-openai',
      parameterBindings: [{ key: 'examplesDir', value: EXAMPLES_DIR }],
    });
    assert.equal(c.status, 201, c.text);
    conforms('AiConfigurationCreationResponse', c.body);
    conforms('AiConfiguration', (await call('GET', `/v2/lm/configurations/${c.body.id}?$expand=scenario`)).body);
    conforms('AiConfigurationList', (await call('GET', '/v2/lm/configurations')).body);

    const d = await call('POST', '/v2/lm/deployments', { configurationId: c.body.id, ttl: '2d' });
    assert.equal(d.status, 202, d.text);
    conforms('AiDeploymentCreationResponse', d.body);
    const id = d.body.id as string;
    conforms('AiDeploymentResponseWithDetails', (await call('GET', `/v2/lm/deployments/${id}`)).body);
    const running = await until('RUNNING', async () => {
      const r = await call('GET', `/v2/lm/deployments/${id}`);
      return r.body.status === 'RUNNING' ? r.body : null;
    });
    conforms('AiDeploymentResponseWithDetails', running);
    conforms('AiDeploymentList', (await call('GET', '/v2/lm/deployments')).body);
    conforms('AiDeploymentList', (await call('GET', '/v2/lm/deployments?$select=status')).body);
    const logs = await until('logs', async () => {
      const r = await call('GET', `/v2/lm/deployments/${id}/logs`);
      return r.body.data.result.length > 0 ? r.body : null;
    });
    conforms('RTALogCommonResponse', logs);

    const stop = await call('PATCH', `/v2/lm/deployments/${id}`, { targetStatus: 'STOPPED' });
    assert.equal(stop.status, 202, stop.text);
    conforms('AiDeploymentModificationResponse', stop.body);
    const refused = await call('DELETE', `/v2/lm/deployments/${id}`);
    // Still stopping (or already stopped): either way a valid AI Core answer.
    if (refused.status === 412) conforms('AiApiError', refused.body.error);
    await until('STOPPED', async () => (await call('GET', `/v2/lm/deployments/${id}`)).body.status === 'STOPPED');
    const bulk = await call(
      'PATCH',
      '/v2/lm/deployments',
      {
        deployments: [
          { id, targetStatus: 'DELETED' },
          { id: 'feedfeedfeedfeed', targetStatus: 'STOPPED' },
        ],
      },
      { contentType: 'application/merge-patch+json' },
    );
    assert.equal(bulk.status, 202, bulk.text);
    conforms('AiDeploymentBulkModificationResponse', bulk.body);
    assert.equal(bulk.body.deployments[1].error.code, 'DEPLOYMENT_NOT_FOUND');
  });
});
