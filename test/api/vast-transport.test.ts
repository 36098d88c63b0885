import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startTestGantry, type TestGantry } from '../helpers/gantry.js';
import { TEST_STORES } from '../helpers/stores.js';

/** What real Vast clients need from the transport (../shared/reference/vast-client-compat.md). */
const sqlite = TEST_STORES.find((s) => s.name === 'sqlite');
describe('vast transport and bad input', { skip: sqlite?.skip ?? 'no sqlite' }, () => {
  let g: TestGantry;
  before(async () => {
    g = await startTestGantry(sqlite!, { gpus: '1x A100:80GB' });
  });
  after(() => g.dispose());

  const isVastError = (body: unknown): void => {
    const b = body as Record<string, unknown>;
    assert.equal(b.success, false);
    assert.equal(typeof b.error, 'string');
    assert.equal(typeof b.msg, 'string');
  };

  it('answers with Content-Type application/json exactly', async () => {
    for (const [m, p] of [
      ['GET', '/api/v0/instances/'],
      ['POST', '/api/v0/bundles/'],
      ['GET', '/api/v0/instances/424242/'],
      ['GET', '/api/v0/nope'],
    ] as const) {
      const r = await g.api(m, p, m === 'POST' ? {} : undefined);
      assert.equal(r.contentType, 'application/json', `${m} ${p}`);
    }
  });

  it('accepts the key as Bearer or ?api_key=, and rejects bad keys with 401 in Vast shape', async () => {
    assert.equal((await g.api('GET', `/api/v0/users/current/?api_key=${g.adminKey}`, undefined, { key: null })).status, 200);
    const none = await g.api('GET', '/api/v0/users/current/', undefined, { key: null });
    assert.equal(none.status, 401);
    isVastError(none.body);
    const bad = await g.api('GET', '/api/v0/instances/', undefined, { key: 'gnt_wrong' });
    assert.equal(bad.status, 401);
    assert.equal(bad.body.msg, 'The API key is not valid.');
  });

  it('serves routes with and without trailing slash and with doubled slashes', async () => {
    for (const p of ['/api/v0/instances', '/api/v0/instances/', '/api/v0//instances/']) assert.equal((await g.api('GET', p)).status, 200, p);
  });

  it('serves gpu_names without auth', async () => {
    const r = await g.api('GET', '/api/v0/gpu_names/unique/', undefined, { key: null });
    assert.deepEqual(r.body, { gpu_names: ['A100'] });
  });

  it('tolerates an empty body sent as JSON and a body on GET', async () => {
    assert.equal((await g.api('POST', '/api/v0/bundles/', undefined, { rawBody: '' })).status, 200);
    const r = await fetch(`${g.url}/api/v0/instances/`, {
      method: 'GET',
      headers: { authorization: `Bearer ${g.adminKey}`, 'content-type': 'application/json' },
    });
    assert.equal(r.status, 200);
  });

  it('reads PUT /search/asks/ and GET /bundles?q=', async () => {
    assert.equal((await g.api('PUT', '/api/v0/search/asks/', { select_cols: ['*'], q: { num_gpus: { eq: 1 } } })).body.offers.length, 1);
    assert.equal((await g.api('GET', `/api/v0/bundles/?q=${encodeURIComponent('{"num_gpus":{"eq":1}}')}`)).body.offers.length, 1);
  });

  const bad: [string, string, unknown, number, RegExp][] = [
    ['POST', '/api/v0/bundles/', { num_gpus: { approx: 1 } }, 400, /Unknown operator 'approx' on 'num_gpus'/],
    ['POST', '/api/v0/bundles/', { num_gpus: { gte: 'many' } }, 400, /'num_gpus' needs a number/],
    ['POST', '/api/v0/bundles/', [1, 2], 400, /JSON object/],
    ['PUT', '/api/v0/asks/1001/', { disk: -5 }, 400, /disk must be a positive number/],
    ['PUT', '/api/v0/asks/1001/', { disk: 'ten' }, 400, /'disk' must be a number/],
    ['PUT', '/api/v0/asks/1001/', { onstart: 'x'.repeat(4049) }, 400, /limit is 4048/],
    ['PUT', '/api/v0/asks/1001/', { env: '-e' }, 400, /needs a value/],
    ['PUT', '/api/v0/asks/1001/', { env: 42 }, 400, /env must be/],
    ['PUT', '/api/v0/asks/1001/', { image: 7 }, 400, /'image' must be a string/],
    ['PUT', '/api/v0/asks/1001/', { target_state: 'paused' }, 400, /target_state/],
    ['PUT', '/api/v0/asks/1001/', { args: 'not-a-list' }, 400, /'args' must be a list/],
    ['PUT', '/api/v0/asks/99001/', {}, 404, /No offer with id 99001/],
    ['PUT', '/api/v0/asks/1005/', {}, 404, /No offer/],
    ['PUT', '/api/v0/asks/abc/', {}, 400, /offer id must be a positive integer/],
    ['GET', '/api/v0/instances/abc/', undefined, 400, /instance id must be a positive integer/],
    ['GET', '/api/v0/instances/77777/', undefined, 404, /No instance with id 77777/],
    ['PUT', '/api/v0/instances/77777/', { state: 'stopped' }, 404, /No instance/],
    ['PUT', '/api/v0/instances/77777/', { state: 'frozen' }, 400, /'state' must be "running" or "stopped"/],
    ['PUT', '/api/v0/instances/77777/', {}, 400, /Give "state"/],
    ['DELETE', '/api/v0/instances/77777/', undefined, 404, /No instance/],
    ['PUT', '/api/v0/instances/reboot/77777/', undefined, 404, /No instance/],
    ['PUT', '/api/v0/instances/request_logs/77777/', { tail: 5 }, 404, /No instance/],
    ['PUT', '/api/v0/instances/', { state: 'running', ids: 'x' }, 400, /must be a list/],
    ['PUT', '/api/v0/instances/', { state: 'running', ids: [] }, 400, /at least one/],
    ['DELETE', '/api/v0/instances/', {}, 400, /instance_ids/],
    ['GET', '/api/v0/results/not-a-token/', undefined, 404, /unknown or has expired/],
    ['GET', '/api/v0/does-not-exist/', undefined, 404, /No route/],
  ];
  for (const [method, path, body, status, msg] of bad) {
    it(`${method} ${path} ${JSON.stringify(body)?.slice(0, 40) ?? ''} → ${status}`, async () => {
      const r = await g.api(method, path, body, path.startsWith('/api/v0/results') ? { key: null } : {});
      assert.equal(r.status, status, r.text);
      isVastError(r.body);
      assert.match(r.body.msg, msg);
    });
  }

  it('answers invalid JSON with 400, not 500', async () => {
    const r = await g.api('PUT', '/api/v0/asks/1001/', undefined, { rawBody: '{"image": ' });
    assert.equal(r.status, 400);
    assert.equal(r.body.msg, 'The request body is not valid JSON.');
    const big = await g.api('PUT', '/api/v0/asks/1001/', undefined, { rawBody: JSON.stringify({ onstart: 'x'.repeat(2_000_000) }) });
    assert.equal(big.status, 413);
    isVastError(big.body);
  });

  it('creates an instance stopped (target_state) without taking its GPU, and starts it later', async () => {
    const c = await g.api('PUT', '/api/v0/asks/1001/', { onstart: 'sleep 300', target_state: 'stopped' });
    const id = c.body.new_contract as number;
    const row = await g.waitInstance(id, (r) => r.actual_status === 'stopped');
    assert.equal(row.intended_status, 'stopped');
    assert.equal((await g.api('POST', '/api/v0/bundles/', {})).body.offers.length, 1, 'the GPU is still offered');
    assert.equal((await g.api('PUT', `/api/v0/instances/${id}/`, { state: 'running' })).status, 200);
    await g.waitInstance(id, (r) => r.actual_status === 'running');
    assert.equal((await g.api('POST', '/api/v0/bundles/', {})).body.offers.length, 0, 'now it is rented');
    await g.api('DELETE', `/api/v0/instances/${id}/`);
  });

  it('lists and verifies machines (admin)', async () => {
    const { machines } = (await g.api('GET', '/api/v0/machines/')).body;
    assert.equal(machines.length, 1);
    assert.equal(machines[0].verified, true);
    assert.equal((await g.api('PUT', `/api/v0/machines/${machines[0].id}/verify/`, { verified: false })).status, 200);
    assert.equal((await g.api('POST', '/api/v0/bundles/', { verified: { eq: true } })).body.offers.length, 0);
    assert.equal((await g.api('PUT', `/api/v0/machines/${machines[0].id}/verify/`, { verified: true })).status, 200);
    assert.equal((await g.api('PUT', '/api/v0/machines/999/verify/', {})).status, 404);
  });

  it('exposes metrics and health', async () => {
    assert.equal((await g.api('GET', '/healthz', undefined, { key: null })).status, 200);
    const text = (await g.api('GET', '/metrics', undefined, { key: null })).text;
    assert.match(text, /gantry_http_requests_total/);
    assert.match(text, /gantry_instance_transitions_total\{to="running"\}/);
    assert.match(text, /gantry_reconcile_steps_total\{step="start"\}/);
  });
});

describe('exit hint', { skip: sqlite?.skip ?? 'no sqlite' }, () => {
  let g: TestGantry;
  before(async () => {
    // Observations an hour apart: only the runtime's exit hint can report the exit in time.
    g = await startTestGantry(sqlite!, { gpus: '1x A100:80GB', settings: { observeIntervalMs: '1h' } });
  });
  after(() => g.dispose());

  it('reports a main process that ended without waiting for the next observation', async () => {
    const id = (await g.api('PUT', '/api/v0/asks/1001/', { args: ['bash', '-c', 'sleep 0.5; exit 9'] })).body.new_contract as number;
    const row = await g.waitInstance(id, (r) => r.actual_status === 'exited', 10_000);
    assert.equal(row.exit_code, 9);
  });
});
