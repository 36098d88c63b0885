import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ConfigurationApi, DeploymentApi, MetaApi, ResourceGroupApi, ScenarioApi } from '@sap-ai-sdk/ai-api';
import { AzureOpenAiChatClient } from '@sap-ai-sdk/foundation-models';
import type { HttpDestination } from '@sap-cloud-sdk/connectivity';
import { chatServingTemplate, EXAMPLES_DIR, lm, sdkDestination, serviceKeyFor } from '../helpers/aicore.js';
import { startTestGantry, type TestGantry } from '../helpers/gantry.js';
import { SERVERLESS_FAST, until } from '../helpers/serverless.js';
import { TEST_STORES } from '../helpers/stores.js';

const RG = { 'AI-Resource-Group': 'default' };

/** The SDK's errors carry the HTTP answer in `cause.response`. */
async function statusOf(p: Promise<unknown>): Promise<number> {
  try {
    await p;
    return 200;
  } catch (err) {
    return (err as { cause?: { response?: { status?: number } } }).cause?.response?.status ?? -1;
  }
}

/**
 * The whole AI Core deployment path with SAP's own packages, unchanged: a service key, the serving
 * template of the example chat server, a configuration, a deployment that reaches RUNNING, its logs,
 * an answer through the foundation-models client (which finds the deployment by model name with the
 * SDK's resolver), stop, delete, 404.
 */
for (const ts of TEST_STORES) {
  describe(`AI Core deployments through the SAP SDKs (${ts.name})`, { skip: ts.skip }, () => {
    let g: TestGantry;
    let key: string;
    let dest: HttpDestination | undefined;
    // One model name per store: the SDK caches the deployment it resolved for a model for the whole process.
    const model = `gantry-tiny-chat-${ts.name}`;
    const exec = <T>(rb: { execute(d?: HttpDestination): Promise<T> }): Promise<T> => rb.execute(dest);

    before(async () => {
      g = await startTestGantry(ts, { gpus: '4x RTX 4090:24GB', settings: { ...SERVERLESS_FAST, workerReportStaleMs: 3000, workerProbeTimeoutMs: 2000 } });
      const u = await g.api('POST', '/api/v0/users/', { username: 'sapper', credit: 100 });
      assert.equal(u.status, 200, u.text);
      key = u.body.api_key;
      dest = await sdkDestination(await serviceKeyFor(g, key));
      const t = await lm(
        g,
        key,
        'POST',
        '/v2/admin/servingTemplates',
        { files: [{ name: 'aicore-chat/serving-template.yaml', content: await chatServingTemplate() }] },
        { group: null },
      );
      assert.equal(t.status, 201, t.text);
    });
    after(() => g.dispose());

    it('template → configuration → deployment → RUNNING → chat → logs → stop → STOPPED → delete → 404', async () => {
      const meta = await exec(MetaApi.metaGet());
      assert.equal(meta.aiApi.capabilities?.bulkUpdates?.deployments, true);
      assert.equal(meta.aiApi.capabilities?.timeToLiveDeployments, true);
      assert.equal(meta.aiApi.capabilities?.logs?.deployments, true);
      const groups = await exec(ResourceGroupApi.kubesubmitV4ResourcegroupsGetAll());
      assert.ok(groups.resources?.some((r) => r.resourceGroupId === 'default'));
      const scenarios = await exec(ScenarioApi.scenarioQuery(RG));
      assert.ok(scenarios.resources.some((s) => s.id === 'foundation-models'));

      const config = await exec(
        ConfigurationApi.configurationCreate(
          {
            name: 'tiny-chat',
            scenarioId: 'foundation-models',
            executableId: 'azure-openai',
            parameterBindings: [
              { key: 'modelName', value: model },
              { key: 'examplesDir', value: EXAMPLES_DIR },
            ],
            inputArtifactBindings: [],
          },
          RG,
        ),
      );
      const created = await exec(DeploymentApi.deploymentCreate({ configurationId: config.id, ttl: '1d' }, RG));
      assert.match(created.id, /^[0-9a-f]{16}$/);
      assert.equal(created.message, 'Deployment scheduled.');
      assert.equal(created.deploymentUrl, '');
      assert.equal(created.status, 'UNKNOWN');

      const running = await until(
        'the deployment RUNNING',
        async () => {
          const d = await exec(DeploymentApi.deploymentGet(created.id, {}, RG));
          return d.status === 'RUNNING' ? d : null;
        },
        60_000,
      );
      assert.equal(running.deploymentUrl, `${g.url}/v2/inference/deployments/${created.id}`);
      assert.equal(running.targetStatus, 'RUNNING');
      assert.equal(running.configurationId, config.id);
      assert.equal(running.configurationName, 'tiny-chat');
      assert.equal(running.scenarioId, 'foundation-models');
      assert.equal(running.executableId, 'azure-openai');
      assert.equal(running.lastOperation, 'CREATE');
      assert.equal(running.ttl, '1d');
      assert.ok(running.startTime !== undefined && running.submissionTime !== undefined);
      const details = running.details as any;
      assert.deepEqual(details.resources.backendDetails.model, { name: model, version: 'latest' });
      assert.equal(details.scaling.backendDetails.predictor.runningReplicas, 1);
      await until(
        'latestRunningConfigurationId',
        async () => (await exec(DeploymentApi.deploymentGet(created.id, {}, RG))).latestRunningConfigurationId === config.id,
      );

      // The foundation-models client resolves the deployment by model name (GET …?scenarioId&status=RUNNING) and calls it.
      const client = new AzureOpenAiChatClient(model, dest);
      const answer = await client.run({ messages: [{ role: 'user', content: 'hello sap' }] });
      assert.equal(answer.getContent(), 'pas olleh');

      const list = await exec(DeploymentApi.deploymentQuery({ scenarioId: 'foundation-models', status: 'RUNNING', executableIds: ['azure-openai'] }, RG));
      assert.deepEqual(
        list.resources.map((d) => d.id),
        [created.id],
      );
      assert.equal(await exec(DeploymentApi.deploymentCount({ status: 'RUNNING' }, RG)), 1);
      assert.equal(await exec(DeploymentApi.deploymentCount({ status: 'STOPPED' }, RG)), 0);

      const logs = await until('the worker output in the logs', async () => {
        const l = await exec(DeploymentApi.kubesubmitV4DeploymentsGetLogs(created.id, { $top: 100 }));
        return (l.data?.result ?? []).some((x) => String(x.msg).includes('listening')) ? l : null;
      });
      const line = (logs.data?.result ?? [])[0] as Record<string, unknown>;
      assert.equal(typeof line.timestamp, 'string');
      assert.equal(line.stream, 'stdout');

      const stop = await exec(DeploymentApi.deploymentModify(created.id, { targetStatus: 'STOPPED' }, RG));
      assert.equal(stop.message, 'Deployment modification scheduled');
      const stopped = await until('STOPPED', async () => {
        const d = await exec(DeploymentApi.deploymentGet(created.id, {}, RG));
        return d.status === 'STOPPED' ? d : null;
      });
      assert.equal(stopped.deploymentUrl, '');
      assert.equal(stopped.targetStatus, 'STOPPED');
      assert.ok(stopped.completionTime !== undefined);
      // A stopped deployment's URL answers a clear JSON error, not a hang or a 404 page.
      const late = await lm(g, key, 'POST', `/v2/inference/deployments/${created.id}/chat/completions`, { messages: [{ role: 'user', content: 'x' }] });
      assert.ok(late.status >= 400 && late.status < 600, late.text);
      assert.equal(typeof late.body.error.code, 'string');

      const del = await exec(DeploymentApi.deploymentDelete(created.id, RG));
      assert.equal(del.message, 'Deployment deletion scheduled');
      await until('404 after delete', async () => (await statusOf(exec(DeploymentApi.deploymentGet(created.id, {}, RG)))) === 404);
    });

    it('a deployment lives in its resource group: invisible from another, and its group cannot be deleted while it holds it', async () => {
      const rg = await lm(g, key, 'POST', '/v2/admin/resourceGroups', { resourceGroupId: 'team-b' }, { group: null });
      assert.equal(rg.status, 202, rg.text);
      const opts = { group: 'team-b' };
      const c = await lm(
        g,
        key,
        'POST',
        '/v2/lm/configurations',
        { name: 'b', scenarioId: 'foundation-models', executableId: 'azure-openai', parameterBindings: [{ key: 'examplesDir', value: EXAMPLES_DIR }] },
        opts,
      );
      assert.equal(c.status, 201, c.text);
      // A configuration of team-b is not one of default's.
      assert.equal((await lm(g, key, 'POST', '/v2/lm/deployments', { configurationId: c.body.id })).status, 404);
      const d = await lm(g, key, 'POST', '/v2/lm/deployments', { configurationId: c.body.id }, opts);
      assert.equal(d.status, 202, d.text);
      assert.equal((await lm(g, key, 'GET', `/v2/lm/deployments/${d.body.id}`)).status, 404, 'not in default');
      assert.equal((await lm(g, key, 'GET', `/v2/lm/deployments/${d.body.id}`, undefined, opts)).status, 200);
      const busy = await lm(g, key, 'DELETE', '/v2/admin/resourceGroups/team-b', undefined, { group: null });
      assert.equal(busy.status, 409, busy.text);
      assert.equal(busy.body.error.code, 'RESOURCE_GROUP_IN_USE');
      await until('RUNNING or PENDING', async () =>
        ['PENDING', 'RUNNING'].includes((await lm(g, key, 'GET', `/v2/lm/deployments/${d.body.id}`, undefined, opts)).body.status),
      );
      assert.equal((await lm(g, key, 'PATCH', `/v2/lm/deployments/${d.body.id}`, { targetStatus: 'STOPPED' }, opts)).status, 202);
      await until('STOPPED', async () => (await lm(g, key, 'GET', `/v2/lm/deployments/${d.body.id}`, undefined, opts)).body.status === 'STOPPED');
      assert.equal((await lm(g, key, 'DELETE', `/v2/lm/deployments/${d.body.id}`, undefined, opts)).status, 202);
      await until('deleted', async () => (await lm(g, key, 'GET', `/v2/lm/deployments/${d.body.id}`, undefined, opts)).status === 404);
      assert.equal((await lm(g, key, 'DELETE', '/v2/admin/resourceGroups/team-b', undefined, { group: null })).status, 202);
    });
  });
}
