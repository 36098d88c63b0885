import assert from 'node:assert/strict';
import { routesOf } from '../../src/api/app.js';
import type { ApiResponse, TestGantry } from './gantry.js';
import { servingTemplate } from '../fixtures/aicore/templates.js';

/**
 * Tenant A with one of everything, for the probes that call every route the app serves
 * (test/api/cross-tenant.test.ts: tenant B; test/api/scoped-keys-probe.test.ts: A's own restricted keys).
 */

/** In A's names and secrets only: anything carrying MARK in an answer came from A. */
export const MARK = 'zq7-tenant-a';
const SSH = `ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIATenantAOnlyKeyMaterial00000000000000000000 ${MARK}-laptop`;
/** What probes send: names and keys without MARK. */
const SSH_PROBE = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIATenantBProbeKeyMaterial0000000000000000000 b-probe';
const EP = 'a-endpoint-7';
const ROLE = 'a-role-7';
/** A's AI Core resource group; its label carries MARK, so a listing that shows it to anyone else is caught (the id is echoed in error targets). */
const RG = 'a-group-7';
/** A's AI Core catalog and deployment ids (ids are echoed in error targets, so MARK is only in names and descriptions). */
const SCENARIO = 'a-scn-7';
const EXECUTABLE = 'a-exe-7';
const APPLICATION = 'a-app-7';
/** A's trained model and ingest pipeline (Elasticsearch dialect); MARK is in their descriptions. */
const MODEL = 'a-model-7';
const PIPELINE = 'a-pipeline-7';
/** A serving template whose deployments hold no worker until a request comes (minReplicas 0). */
const template = (scenario: string, executable: string, mark: string): string =>
  servingTemplate({
    id: executable,
    scenario,
    annotations: { 'scenarios.ai.sap.com/name': `${mark}-scenario`, 'executables.ai.sap.com/description': `${mark}-executable` },
    params: { modelName: `${mark}-model` },
    minReplicas: 0,
    image: 'x',
  });
/** What probes load: other ids and no MARK (a probe that loaded A's ids into its own account would then see its own copy). */
const PROBE_TEMPLATE = template('probe-scn', 'probe-exe', 'probe');
/**
 * Routes outside the tenant and permission model: health, metrics, the agent protocol, worker reports (token-authenticated), the signing key,
 * result downloads, GPU names, the 2FA refusals, AI Core's token endpoint (client credentials of its own), AI Core's meta, Elasticsearch's `GET /` and the API's description
 * (`/openapi.json`, `/docs`: the server's capabilities, alike for all), the console's session (any key: what that key may do), overview and series and its event stream (any key: only what that key may read) and its static files, and the inference workers' model routes (worker tokens).
 */
const OUTSIDE =
  /^\/(healthz|metrics|pubkey|worker_status|delete_requests|openapi\.json)$|^\/report\/|^\/docs(\/|$)|^\/agent\/|^\/api\/v0\/(results\/|gpu_names|tfa|deployment_uploads$|deployment_code$)|^\/oauth\/token$|^\/console\/api\/(session|events|overview|series)$|^\/console\/(?!api\/)|^\/v2\/lm\/meta$|^\/$|^\/_ml\/_gantry\/worker\//;

export type Call = (method: string, path: string, body?: unknown) => Promise<ApiResponse>;

/** AI Core calls name a resource group: A's own by default (so a probe names A's group as well as A's ids). */
const withGroup = (path: string, group: string): Record<string, string> => (path.startsWith('/v2/') ? { 'AI-Resource-Group': group } : {});

export interface TenantA {
  readonly a: Call;
  readonly b: Call;
  /** `g.api` with a key of one's choosing; AI Core calls send `group` (A's group unless told). */
  readonly as: (key: string, group?: string) => Call;
  readonly aliceKey: string;
  /** The CONTAINER_API_KEY of A's instance. */
  readonly instanceKey: string;
  readonly ids: Readonly<Record<string, number | string>>;
  /** `snapshotOfA` after set-up; a probe that adds to A before probing takes it again. */
  baseline: Record<string, unknown>;
}

/**
 * Alice (A) with an instance (running), an endpoint, a worker group, a deployment, an API key, an SSH key, a secret, a team with a role and a subaccount,
 * and on the AI Core side a resource group holding a serving template's scenario and executable, an artifact, a configuration and a deployment;
 * and Bob (B).
 */
export async function setUpTenantA(g: TestGantry): Promise<TenantA> {
  const mk = async (name: string) => (await g.api('POST', '/api/v0/users/', { username: name, credit: 100 })).body as { id: number; api_key: string };
  const alice = await mk('alice');
  const bob = await mk('bob');
  const as =
    (key: string, group = RG): Call =>
    (m, p, body) =>
      g.api(m, p, body, { key, headers: withGroup(p, group) });
  const a = as(alice.api_key);
  const machine = (await g.api('GET', '/api/v0/machines/')).body.machines[0].id as number;
  const inst = await a('PUT', `/api/v0/asks/${machine * 1000 + 1}/`, { image: 'x', onstart: 'sleep 600', runtype: 'ssh', label: `${MARK}-label` });
  const ep = await a('POST', '/api/v0/endptjobs/', { endpoint_name: EP, min_load: 0, cold_workers: 0, min_workers: 0, max_workers: 0 });
  const wg = await a('POST', '/api/v0/workergroups/', {
    endpoint_id: ep.body.result,
    image: 'x',
    onstart: 'sleep 1',
    search_params: 'num_gpus=1',
    test_workers: 0,
  });
  const dep = await a('POST', '/api/v0/deployments/', {
    name: `${MARK}-dep`,
    image: 'x',
    onstart: 'sleep 1',
    max_workers: 0,
    min_workers: 0,
    cold_workers: 0,
    min_load: 0,
  });
  const key = await a('POST', '/api/v0/auth/apikeys/', { name: `${MARK}-key` });
  const ssh = await a('POST', '/api/v0/ssh/', { ssh_key: SSH });
  await a('POST', '/api/v0/secrets/', { key: 'A_SECRET', value: `${MARK}-secret` });
  const team = await a('POST', '/api/v0/team/', { team_name: `${MARK}-team` });
  await g.api('POST', '/api/v0/team/roles/', { name: ROLE, permissions: { api: {} } }, { key: team.body.api_key });
  await a('POST', '/api/v0/users/', { username: `${MARK}-sub`, parent_id: 'me' });
  for (const [what, r] of Object.entries({ inst, ep, wg, dep, key, ssh, team })) assert.equal(r.status, 200, `${what}: ${r.text}`);
  const rg = await a('POST', '/v2/admin/resourceGroups', { resourceGroupId: RG, labels: [{ key: 'ext.ai.sap.com/owner', value: MARK }] });
  assert.equal(rg.status, 202, `resource group: ${rg.text}`);
  const aicore = await setUpAicore(a);
  await setUpElastic(a);
  const ids = {
    instance: inst.body.new_contract as number,
    machine,
    endpoint: ep.body.result,
    endpointName: EP,
    workergroup: wg.body.id,
    deployment: dep.body.deployment?.id ?? dep.body.deployment_id,
    key: key.body.id,
    ssh: ssh.body.key.id,
    user: alice.id,
    role: ROLE,
    resourceGroup: RG,
    model: MODEL,
    pipeline: PIPELINE,
    ...aicore,
  };
  await g.waitInstance(ids.instance, (x) => x.actual_status === 'running', 20_000, alice.api_key);
  return { a, b: as(bob.api_key), as, aliceKey: alice.api_key, instanceKey: inst.body.instance_api_key, ids, baseline: await snapshotOfA(a) };
}

/** A's Elasticsearch side: a trained model (no definition) and a pipeline that runs it. */
async function setUpElastic(a: Call): Promise<void> {
  const m = await a('PUT', `/_ml/trained_models/${MODEL}`, { model_type: 'onnx', inference_config: { text_embedding: {} }, description: `${MARK}-model` });
  assert.equal(m.status, 200, `trained model: ${m.text}`);
  const p = await a('PUT', `/_ingest/pipeline/${PIPELINE}`, { description: `${MARK}-pipeline`, processors: [{ inference: { model_id: MODEL } }] });
  assert.equal(p.status, 200, `pipeline: ${p.text}`);
}

/**
 * A's AI Core side, in A's group: a template's scenario and executable, an artifact, a configuration, a deployment. Applications read the
 * server's folders, so only an admin has them: every other account's calls there answer ADMIN_ONLY, whatever the name (probed all the same).
 */
async function setUpAicore(a: Call): Promise<Record<string, string>> {
  const t = await a('POST', '/v2/admin/servingTemplates', { files: [{ name: `${MARK}.yaml`, content: template(SCENARIO, EXECUTABLE, MARK) }] });
  assert.equal(t.status, 201, `serving template: ${t.text}`);
  const art = await a('POST', '/v2/lm/artifacts', { name: `${MARK}-art`, kind: 'model', url: 'file:///models/a7', scenarioId: SCENARIO, description: MARK });
  assert.equal(art.status, 201, `artifact: ${art.text}`);
  const conf = await a('POST', '/v2/lm/configurations', { name: `${MARK}-conf`, executableId: EXECUTABLE, scenarioId: SCENARIO });
  assert.equal(conf.status, 201, `configuration: ${conf.text}`);
  const dep = await a('POST', '/v2/lm/deployments', { configurationId: conf.body.id });
  assert.equal(dep.status, 202, `AI Core deployment: ${dep.text}`);
  // Stopped before the probes, so no worker of it comes and goes in A's listings meanwhile (minReplicas 0 still gets one: the default min_load is 1).
  // (From PENDING or RUNNING, as AI Core allows it: while UNKNOWN it is refused.)
  const deadline = Date.now() + 20_000;
  const stop = (): Promise<ApiResponse> => a('PATCH', `/v2/lm/deployments/${dep.body.id}`, { targetStatus: 'STOPPED' });
  for (let r = await stop(); r.status !== 202; r = await stop()) {
    assert.ok(r.status === 412 && Date.now() < deadline, `stop: ${r.text}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  while ((await a('GET', `/v2/lm/deployments/${dep.body.id}`)).body.status !== 'STOPPED') {
    assert.ok(Date.now() < deadline, "A's AI Core deployment did not stop");
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return {
    scenario: SCENARIO,
    executable: EXECUTABLE,
    application: APPLICATION,
    artifact: art.body.id,
    configuration: conf.body.id,
    aicoreDeployment: dep.body.id,
  };
}

export interface ProbedRoute {
  /** As the app declares it, e.g. `PUT /api/v0/instances/:id`. */
  readonly route: string;
  readonly url: string;
  readonly method: string;
  /** The parameters the route's path names (each filled with one of A's ids). */
  readonly params: readonly string[];
  readonly path: string;
  readonly body: unknown;
}

/** Every route the app serves inside the tenant model, each with A's ids in its path and a body that names A's resources. */
export function probedRoutes(g: TestGantry, ids: TenantA['ids'], o: { instanceState?: 'running' | 'stopped' } = {}): ProbedRoute[] {
  const idFor = (url: string, param: string): string => {
    if (param === 'resourceGroupId') return String(ids.resourceGroup);
    if (param === 'scenarioId') return String(ids.scenario);
    if (param === 'executableId') return String(ids.executable);
    if (param === 'configurationId') return String(ids.configuration);
    if (param === 'artifactId') return String(ids.artifact);
    if (url.startsWith('/v2/admin/applications/')) return String(ids.application);
    if (url.startsWith('/v2/lm/deployments/') || url.startsWith('/v2/inference/')) return String(ids.aicoreDeployment);
    if (param === 'keyId') return String(ids.ssh);
    if (param === 'name') return String(url.startsWith('/endpoints/') ? ids.endpointName : ids.role);
    if (url.startsWith('/api/v0/instances')) return String(ids.instance);
    if (url.startsWith('/api/v0/asks')) return String((ids.machine as number) * 1000 + 1);
    if (url.startsWith('/api/v0/machines')) return String(ids.machine);
    if (url.startsWith('/api/v0/endptjobs')) return String(ids.endpoint);
    if (url.startsWith('/api/v0/workergroups') || url.startsWith('/api/v0/autojobs')) return String(ids.workergroup);
    if (url.startsWith('/api/v0/deployment')) return String(ids.deployment);
    if (url.startsWith('/console/api/deployments')) return String(ids.deployment);
    if (url.startsWith('/api/v0/auth/apikeys')) return String(ids.key);
    if (url.startsWith('/api/v0/ssh')) return String(ids.ssh);
    if (param === 'model_id') return String(ids.model);
    if (param === 'part') return '0';
    if (url.startsWith('/_ingest/pipeline/')) return String(ids.pipeline);
    return String(ids.user);
  };
  const state = o.instanceState ?? 'stopped';
  const bodyFor = (method: string, url: string): unknown => {
    if (url === '/route' || url.startsWith('/get_') || url === '/update_workers')
      return { endpoint: ids.endpointName, id: ids.endpoint, workergroup_id: ids.workergroup, cost: 1 };
    if (url === '/api/v0/instances') return method === 'PUT' ? { ids: [ids.instance], state } : { instance_ids: [ids.instance] };
    if (url.includes('/ssh')) return { ssh_key: SSH_PROBE };
    if (url === '/api/v0/machines/create_asks') return { machine: ids.machine, price_gpu: 9 };
    if (url === '/api/v0/commands/transfer_credit') return { recipient: 'bob', amount: 1 };
    if (url === '/api/v0/secrets') return { key: 'A_SECRET', value: 'overwritten' };
    if (url.startsWith('/api/v0/deployment/') && url.endsWith('/stop')) return { force: true };
    if (url === '/console/api/deployments/:id/stop') return { drain: false, force: true };
    if (url === '/console/api/deployments/:id/start') return {};
    if (url === '/api/v0/deployments' && method === 'PUT') return { name: 'probe-code', image: 'x', file_hash: 'f'.repeat(64), file_size: 10 };
    // Complete bodies, so the call reaches the engine's check rather than the dialect's validation.
    if (url === '/api/v0/workergroups' || url === '/api/v0/autojobs')
      return { endpoint_id: ids.endpoint, image: 'x', search_params: 'num_gpus=1', test_workers: 0 };
    if (url === '/api/v0/users') return { username: 'probe-sub', parent_id: 'me' };
    if (url === '/v2/admin/resourceGroups') return { resourceGroupId: 'probe-rg', labels: [] };
    if (url.startsWith('/v2/admin/resourceGroups/')) return { labels: [] };
    if (url === '/v2/admin/serviceKeys') return {};
    // AI Core: A's ids in complete bodies; what would create something names a folder that does not exist or the probe's own template.
    if (url === '/v2/admin/servingTemplates') return { files: [{ name: 'probe.yaml', content: PROBE_TEMPLATE }] };
    if (url === '/v2/admin/applications') return { applicationName: ids.application, repositoryUrl: '/nonexistent/probe-repo', path: 'serving' };
    if (url === '/v2/admin/applications/:name') return { repositoryUrl: '/nonexistent/probe-repo', path: 'serving' };
    if (url === '/v2/lm/configurations') return { name: 'probe-conf', executableId: ids.executable, scenarioId: ids.scenario };
    if (url === '/v2/lm/artifacts') return { name: 'probe-art', kind: 'model', url: 'file:///probe', scenarioId: ids.scenario };
    if (url === '/v2/lm/deployments')
      return method === 'POST' ? { configurationId: ids.configuration } : { deployments: [{ id: ids.aicoreDeployment, targetStatus: 'STOPPED' }] };
    if (url === '/v2/lm/deployments/:id') return { targetStatus: 'STOPPED' };
    if (url.startsWith('/v2/')) return {};
    // Elasticsearch: complete bodies that name no MARK (a create makes the caller's own model or pipeline of that name).
    if (url === '/_ml/trained_models/:model_id') return { model_type: 'onnx', inference_config: { text_embedding: {} } };
    if (url === '/_ml/trained_models/:model_id/definition/:part') return { definition: 'AAAA', total_parts: 2, total_definition_length: 6 };
    if (url === '/_ml/trained_models/:model_id/vocabulary') return { vocabulary: ['[PAD]', 'b'] };
    if (url === '/_ingest/pipeline/:id') return { processors: [{ inference: { model_id: 'probe-model' } }] };
    if (url.endsWith('/_infer')) return { docs: [{ text_field: 'probe' }] };
    if (url === '/_ingest/pipeline/_simulate')
      return { pipeline: { processors: [{ inference: { model_id: 'probe-model' } }] }, docs: [{ _source: { text_field: 'probe' } }] };
    if (url.endsWith('/_simulate')) return { docs: [{ _source: { text_field: 'probe' } }] };
    if (url.startsWith('/_ml/') || url.startsWith('/_ingest/')) return {};
    if (url === '/api/v0/team') return { team_name: 'probe-team' };
    // Volumes: complete bodies naming nothing of A's but its machine (a probe lists 1 GB of volume space there).
    if (url === '/api/v0/volumes') return method === 'POST' ? { machine: ids.machine, size: 1 } : { id: 999_999, size: 1 };
    if (url === '/api/v0/volumes/unlist') return { id: 999_999 };
    if (url === '/api/v0/volumes/copy') return { src_id: 999_999, dst_id: 999_999 };
    if (url === '/api/v0/team/invite') return { email: 'probe@example.com', role: ids.role };
    // Another client than the caller: a reset would give the probing key a new secret and end the probe.
    if (url === '/api/v0/commands/reset_apikey') return { client_id: 'probe-no-such-client' };
    return {
      state,
      label: 'x',
      name: 'x',
      permissions: { api: {} },
      sdate: Math.floor(Date.now() / 1000) + 3600,
      duration: 1,
      price: 1,
      verified: true,
    };
  };
  const routes = routesOf(g.app).filter((r) => !OUTSIDE.test(r.url) && ['GET', 'POST', 'PUT', 'DELETE', 'PATCH'].includes(r.method));
  assert.ok(routes.length > 60, `probing ${routes.length} routes`);
  return routes.map((r) => ({
    route: `${r.method} ${r.url}`,
    url: r.url,
    method: r.method,
    params: [...r.url.matchAll(/:(\w+)/g)].map((m) => m[1] as string),
    path: r.url.replace(/:(\w+)/g, (_m, p: string) => idFor(r.url, p)).replace('*', 'anything'),
    body: r.method === 'GET' ? undefined : bodyFor(r.method, r.url),
  }));
}

/** The serverless data path: an endpoint's own key needs no scope there; an account key needs `misc`. */
export const isDataPath = (url: string): boolean => url.startsWith('/endpoints/') || url === '/route' || url.startsWith('/get_');

/** What A holds, read with Alice's own full key: every row of every listing but the instances' moving parts (status, usage). */
export async function snapshotOfA(a: Call): Promise<Record<string, unknown>> {
  const get = async (path: string) => (await a('GET', path)).body;
  const instances = ((await get('/api/v0/instances/')).instances as Record<string, unknown>[]).map((i) => ({
    id: i.id,
    label: i.label,
    intended_status: i.intended_status,
  }));
  return {
    instances,
    apikeys: (await get('/api/v0/auth/apikeys/')).apikeys,
    ssh: await get('/api/v0/ssh/'),
    secrets: (await get('/api/v0/secrets/')).secrets,
    subaccounts: (await get('/api/v0/subaccounts/')).users,
    endpoints: (await get('/api/v0/endptjobs/')).results,
    workergroups: (await get('/api/v0/workergroups/')).results,
    deployments: (await get('/api/v0/deployments/')).deployments,
    // Credit in and out (A's instance is billed meanwhile, so the balance itself moves).
    transfers: (await get('/api/v1/invoices')).results,
    resourceGroups: (await get('/v2/admin/resourceGroups')).resources,
    scenarios: (await get('/v2/lm/scenarios')).resources,
    executables: (await get(`/v2/lm/scenarios/${SCENARIO}/executables`)).resources,
    artifacts: (await get('/v2/lm/artifacts')).resources,
    configurations: (await get('/v2/lm/configurations')).resources,
    trainedModels: (await get('/_ml/trained_models?include=definition_status')).trained_model_configs,
    pipelines: await get('/_ingest/pipeline'),
    // Not the status: a deployment's workers come and go on their own.
    aicoreDeployments: ((await get('/v2/lm/deployments')).resources as Record<string, unknown>[]).map((d) => ({
      id: d.id,
      configurationId: d.configurationId,
      configurationName: d.configurationName,
      targetStatus: d.targetStatus,
      ttl: d.ttl,
    })),
  };
}

/** Everything of A's is as in `t.baseline`, and A's instance still runs. */
export async function assertNothingOfAChanged(t: TenantA): Promise<void> {
  const { a, ids } = t;
  assert.deepEqual(await snapshotOfA(a), t.baseline);
  const inst = (await a('GET', `/api/v0/instances/${ids.instance}/`)).body.instances;
  assert.equal(inst.actual_status, 'running');
  assert.equal(inst.label, `${MARK}-label`);
  assert.ok((await a('GET', '/api/v0/users/current/')).body.balance > 0);
}
