import { join } from 'node:path';
import type { RunningGantry } from '../src/main/up.js';
import { benchGantry, pair, type LatencyRow } from './util.js';

/**
 * AI Core API benchmarks, each beside its baseline in the same run and server:
 *  - stopping 100 deployments: one bulk PATCH /v2/lm/deployments (100 items) vs 100 single PATCH
 *    /v2/lm/deployments/{id} calls one after another (the whole batch timed, per round);
 *  - the AI Core auth path: POST /oauth/token, and GET /v2/lm/deployments with the JWT, vs the Vast
 *    API's authenticated GET /api/v0/instances/ with an API key (both lists empty: the cost is auth and the stack).
 * The deployments scale from zero (minReplicas 0), so no worker runs and only the API is measured.
 */
const DEPLOYMENTS = 100;
const ROUNDS = 3;
const AUTH_RUNS = 200;

const IDLE_TEMPLATE = `kind: ServingTemplate
metadata:
  name: idle-model
  labels:
    scenarios.ai.sap.com/id: bench
    ai.sap.com/version: "1.0"
spec:
  template:
    spec: |
      predictor:
        minReplicas: 0
        maxReplicas: 1
        containers:
        - name: kserve-container
          image: busybox
          command: ["true"]
          ports:
            - containerPort: 8080
`;

type Call = (method: string, path: string, body?: unknown, headers?: Record<string, string>) => Promise<{ status: number; body: any }>;

function caller(url: string, bearer: () => string): Call {
  return async (method, path, body, headers = {}) => {
    const res = await fetch(url + path, {
      method,
      headers: { authorization: `Bearer ${bearer()}`, 'ai-resource-group': 'default', 'content-type': 'application/json', ...headers },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    let parsed: unknown = text;
    try {
      parsed = JSON.parse(text);
    } catch {
      // $count answers text/plain
    }
    return { status: res.status, body: parsed };
  };
}

const must = async (p: Promise<{ status: number; body: any }>, status: number, what: string): Promise<any> => {
  const r = await p;
  if (r.status !== status) throw new Error(`${what}: ${r.status} ${JSON.stringify(r.body)}`);
  return r.body;
};

const time = async (f: () => Promise<unknown>): Promise<number> => {
  const t = process.hrtime.bigint();
  await f();
  return Number(process.hrtime.bigint() - t) / 1e6;
};

async function until(what: string, f: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + 60_000;
  while (!(await f())) {
    if (Date.now() > deadline) throw new Error(`bench: timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const start = (dir: string): Promise<RunningGantry> => benchGantry(dir, { gpus: '1x RTX 4090:24GB', autoscaleIntervalMs: 50 });

/** A user of its own (so the admin's rights do not shortcut anything), its service key, and the idle template loaded. */
async function account(g: RunningGantry): Promise<{ key: string; serviceKey: Record<string, any> }> {
  const admin = caller(g.url, () => g.adminKey ?? '');
  const u = await must(admin('POST', '/api/v0/users/', { username: 'bencher', credit: 100 }), 200, 'create user');
  const key = u.api_key as string;
  const call = caller(g.url, () => key);
  const serviceKey = await must(call('POST', '/v2/admin/serviceKeys', {}), 201, 'service key');
  await must(call('POST', '/v2/admin/servingTemplates', { files: [{ name: 'idle.yaml', content: IDLE_TEMPLATE }] }), 201, 'serving template');
  return { key, serviceKey };
}

async function bulkBench(g: RunningGantry, call: Call): Promise<LatencyRow[]> {
  const config = await must(
    call('POST', '/v2/lm/configurations', { name: 'idle', scenarioId: 'bench', executableId: 'idle-model', parameterBindings: [], inputArtifactBindings: [] }),
    201,
    'configuration',
  );
  const ids: string[] = [];
  for (let i = 0; i < DEPLOYMENTS; i += 10) {
    const batch = Array.from(
      { length: 10 },
      async () => (await must(call('POST', '/v2/lm/deployments', { configurationId: config.id }), 202, 'deploy')).id as string,
    );
    ids.push(...(await Promise.all(batch)));
  }
  const countOf = async (status: string): Promise<number> => Number((await call('GET', `/v2/lm/deployments/$count?status=${status}`)).body);
  const settle = async (status: string): Promise<void> => until(`${DEPLOYMENTS} ${status}`, async () => (await countOf(status)) === DEPLOYMENTS);
  // Started again (Gantry's extension targetStatus RUNNING), so each round stops the same 100 pending deployments.
  const restart = async (): Promise<void> => {
    await settle('STOPPED');
    for (let i = 0; i < ids.length; i += 10) {
      await Promise.all(ids.slice(i, i + 10).map((id) => must(call('PATCH', `/v2/lm/deployments/${id}`, { targetStatus: 'RUNNING' }), 202, 'start')));
    }
    await settle('PENDING');
  };
  await settle('PENDING');
  const single: number[] = [];
  const bulk: number[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    single.push(
      await time(async () => {
        for (const id of ids) await must(call('PATCH', `/v2/lm/deployments/${id}`, { targetStatus: 'STOPPED' }), 202, 'stop');
      }),
    );
    await restart();
    const items = ids.map((id) => ({ id, targetStatus: 'STOPPED' }));
    bulk.push(
      await time(async () => {
        const res = await must(call('PATCH', '/v2/lm/deployments', { deployments: items }, { 'content-type': 'application/merge-patch+json' }), 202, 'bulk');
        if ((res.deployments as { error?: unknown }[]).some((d) => d.error !== undefined)) throw new Error(`bulk: ${JSON.stringify(res)}`);
      }),
    );
    await restart();
  }
  return pair(
    `stop ${DEPLOYMENTS} AI Core deployments (whole batch, per round)`,
    [`${DEPLOYMENTS} × PATCH /v2/lm/deployments/{id}, one after another (baseline)`, single],
    [`one bulk PATCH /v2/lm/deployments with ${DEPLOYMENTS} items`, bulk],
  );
}

async function authRows(g: RunningGantry, key: string, serviceKey: Record<string, any>): Promise<LatencyRow[]> {
  const form = new URLSearchParams({ grant_type: 'client_credentials', client_id: serviceKey.clientid, client_secret: serviceKey.clientsecret }).toString();
  let jwt = '';
  const token = async (): Promise<void> => {
    const res = await fetch(`${serviceKey.url}/oauth/token`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: form });
    if (res.status !== 200) throw new Error(`token: ${res.status}`);
    jwt = ((await res.json()) as { access_token: string }).access_token;
  };
  const aicore = caller(g.url, () => jwt);
  const vast = caller(g.url, () => key);
  const lmList = async (): Promise<void> => void (await must(aicore('GET', '/v2/lm/deployments?$top=1'), 200, 'lm list'));
  const vastList = async (): Promise<void> => void (await must(vast('GET', '/api/v0/instances/'), 200, 'vast list'));
  await token();
  await lmList();
  await vastList();
  const t: number[] = [];
  const l: number[] = [];
  const v: number[] = [];
  for (let i = 0; i < AUTH_RUNS; i++) {
    v.push(await time(vastList));
    t.push(await time(token));
    l.push(await time(lmList));
  }
  const base: [string, number[]] = ['GET /api/v0/instances/ with a Vast API key (baseline)', v];
  return [
    ...pair('authenticated list call', base, ['GET /v2/lm/deployments with a JWT from /oauth/token', l]),
    pair('authenticated list call', base, ['POST /oauth/token (client credentials → signed JWT)', t])[1] as LatencyRow,
  ];
}

export async function aicoreBench(dir: string): Promise<LatencyRow[]> {
  const g = await start(join(dir, 'aicore'));
  try {
    const { key, serviceKey } = await account(g);
    // The auth rows first, on an empty account: both list calls answer an empty list.
    const auth = await authRows(g, key, serviceKey);
    const bulk = await bulkBench(
      g,
      caller(g.url, () => key),
    );
    return [...bulk, ...auth];
  } finally {
    await g.close();
  }
}
