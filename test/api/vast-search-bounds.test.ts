import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { MAX_SEARCH_QUERY_CHARS } from '../../src/api/dialects/vast/query-language.js';
import { startTestGantry, type ApiResponse, type TestGantry } from '../helpers/gantry.js';
import { TEST_STORES } from '../helpers/stores.js';

/**
 * `search_params` in the search language, at every route that reads it: longer than the bound is a 400
 * that names the field and the bound, before the parser sees it; within the bound, the shapes that once
 * took the parser seconds (a name, then thousands of spaces) are read by the language's rules.
 */
const REPRO = `a${' '.repeat(64_000)}!`;
/** 16,000 characters, within the bound: a name, spaces, and no operator. */
const UNREADABLE = `a${' '.repeat(15_998)}!`;
/** Within the bound and valid: the spaces stand before a word operator. */
const SPACED_IN = `num_gpus${' '.repeat(15_980)}in [1]`;

const sqlite = TEST_STORES.find((s) => s.name === 'sqlite');
describe('vast search_params bounds', { skip: sqlite?.skip ?? 'no sqlite' }, () => {
  let g: TestGantry;
  let endpointId: number;
  let workergroupId: number;
  before(async () => {
    g = await startTestGantry(sqlite!, { gpus: '1x A100:80GB' });
    const ep = await g.api('POST', '/api/v0/endptjobs/', { endpoint_name: 'bounds', min_load: 0, cold_workers: 0, max_workers: 0 });
    assert.equal(ep.status, 200, ep.text);
    endpointId = ep.body.result as number;
    const wg = await g.api('POST', '/api/v0/workergroups/', { endpoint_name: 'bounds', search_params: 'num_gpus=1', launch_args: '--image busybox' });
    assert.equal(wg.status, 200, wg.text);
    workergroupId = wg.body.id as number;
  });
  after(() => g.dispose());

  const tooLong = (r: ApiResponse, where: string): void => {
    assert.equal(r.status, 400, `${where}: ${r.text.slice(0, 300)}`);
    assert.equal(r.body.success, false, where);
    assert.equal(r.body.error, 'invalid_args', where);
    assert.match(r.body.msg as string, new RegExp(`^'search_params' must be at most ${MAX_SEARCH_QUERY_CHARS} characters`), where);
    assert.ok(r.text.length < 1024, `${where}: the answer does not echo the query (${r.text.length} bytes)`);
  };
  const unreadable = (r: ApiResponse, where: string): void => {
    assert.equal(r.status, 400, `${where}: ${r.text.slice(0, 300)}`);
    assert.equal(r.body.code, 'INVALID_QUERY', where);
    assert.match(r.body.msg as string, /^Cannot read the search query at: 'a {15998}!'/, where);
  };
  const shownSearch = async (id: number): Promise<string | undefined> =>
    ((await g.api('GET', '/api/v0/workergroups/')).body.results as { id: number; search_params: string }[]).find((w) => w.id === id)?.search_params;

  it(`refuses search_params over ${MAX_SEARCH_QUERY_CHARS} characters at every route that reads them, and makes nothing`, async () => {
    const deployment = { name: 'd1', image: 'local/shell', search_params: REPRO };
    tooLong(await g.api('POST', '/api/v0/deployments/', deployment), 'POST /api/v0/deployments/');
    tooLong(await g.api('POST', '/api/v0/workergroups/', { endpoint_id: endpointId, search_params: REPRO }), 'POST /api/v0/workergroups/');
    tooLong(await g.api('POST', '/api/v0/autojobs/', { endpoint_id: endpointId, search_params: REPRO }), 'POST /api/v0/autojobs/');
    tooLong(await g.api('PUT', `/api/v0/workergroups/${workergroupId}/`, { search_params: REPRO }), 'PUT /api/v0/workergroups/:id/');
    const code = { name: 'c1', image: 'python:3.12-slim', file_hash: 'a'.repeat(64), file_size: 100, search_params: REPRO };
    tooLong(await g.api('PUT', '/api/v0/deployments/', code), 'PUT /api/v0/deployments/');
    // The bound itself is read; one character more is refused.
    const atBound = `num_gpus=1${' '.repeat(MAX_SEARCH_QUERY_CHARS - 10)}`;
    assert.equal(atBound.length, MAX_SEARCH_QUERY_CHARS);
    assert.equal((await g.api('PUT', `/api/v0/workergroups/${workergroupId}/`, { search_params: atBound })).status, 200);
    tooLong(await g.api('PUT', `/api/v0/workergroups/${workergroupId}/`, { search_params: `${atBound} ` }), 'one over');
    assert.equal(await shownSearch(workergroupId), 'num_gpus=1');
    assert.deepEqual((await g.api('GET', '/api/v0/deployments/')).body.deployments, []);
  });

  it('reads 16,000 characters of spaces after a name by the rules of the language: an error without an operator, a term with one', async () => {
    unreadable(await g.api('POST', '/api/v0/deployments/', { name: 'd2', image: 'local/shell', search_params: UNREADABLE }), 'POST /api/v0/deployments/');
    unreadable(await g.api('POST', '/api/v0/workergroups/', { endpoint_id: endpointId, search_params: UNREADABLE }), 'POST /api/v0/workergroups/');
    unreadable(await g.api('PUT', `/api/v0/workergroups/${workergroupId}/`, { search_params: UNREADABLE }), 'PUT /api/v0/workergroups/:id/');
    assert.equal(await shownSearch(workergroupId), 'num_gpus=1', 'a refused update changes nothing');

    const updated = await g.api('PUT', `/api/v0/workergroups/${workergroupId}/`, { search_params: SPACED_IN });
    assert.equal(updated.status, 200, updated.text);
    assert.equal(await shownSearch(workergroupId), 'num_gpus in [1]');
    const made = await g.api('POST', '/api/v0/deployments/', { name: 'd3', image: 'local/shell', search_params: SPACED_IN, max_workers: 0, cold_workers: 0 });
    assert.equal(made.status, 200, made.text);
    assert.equal(await shownSearch(made.body.deployment.workergroup_id as number), 'num_gpus in [1]');
    assert.equal((await g.api('GET', '/api/v0/users/current/')).status, 200);
  });
});
