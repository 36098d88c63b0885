import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { MAX_YAML_DEPTH } from '../../src/control/catalog/yaml-bounds.js';
import { lm } from '../helpers/aicore.js';
import { startTestGantry, type TestGantry } from '../helpers/gantry.js';
import { TEST_STORES } from '../helpers/stores.js';
import { plainTemplate } from '../fixtures/aicore/templates.js';

/**
 * Deeply nested YAML sent to `POST /v2/admin/servingTemplates` by a plain user: composing it
 * overflowed the stack (a 400 naming "Maximum call stack size exceeded"), and the second such
 * request aborted the whole process (V8's "RegExpCompiler Allocation failed", uncatchable). Now the
 * nesting is bounded before composing: each is a 400 TEMPLATE_INVALID, and the server goes on.
 */
const sqlite = TEST_STORES.find((s) => s.name === 'sqlite');
describe('AI Core serving templates nested too deep', { skip: sqlite?.skip ?? 'no sqlite' }, () => {
  let g: TestGantry;
  let key: string;
  before(async () => {
    g = await startTestGantry(sqlite!, { localHost: false });
    const user = await g.api('POST', '/api/v0/users/', { username: 'deep-yaml', credit: 100 });
    assert.equal(user.status, 200, user.text);
    key = user.body.api_key as string;
  });
  after(() => g.dispose());

  const send = (content: string) => lm(g, key, 'POST', '/v2/admin/servingTemplates', { files: [{ name: 't.yaml', content }] }, { group: null });

  function refusedTooDeep(r: Awaited<ReturnType<typeof send>>): void {
    assert.equal(r.status, 400, r.text);
    const e = r.body.error;
    assert.equal(typeof e.code, 'string', r.text);
    assert.equal(e.message, `t.yaml: (yaml) nests mappings and sequences more than ${MAX_YAML_DEPTH} levels deep`, r.text);
    assert.deepEqual(e.details, { file: 't.yaml', field: '(yaml)' }, r.text);
    assert.ok(!r.text.includes('call stack'), r.text);
  }

  it('answers 400 TEMPLATE_INVALID to the crashing payload, sent twice, and to 1000 [ then 10000 ]', async () => {
    const deep = '['.repeat(1000) + ']'.repeat(1000);
    refusedTooDeep(await send(deep));
    refusedTooDeep(await send(deep));
    refusedTooDeep(await send('['.repeat(1000) + ']'.repeat(10_000)));
    refusedTooDeep(await send(`${'- '.repeat(100_000)}x\n`));
    refusedTooDeep(await send(deep));
  });

  it('still answers afterwards, and loads a real template', async () => {
    const ok = await send(plainTemplate('after-deep', 'deep-scen'));
    assert.equal(ok.status, 201, ok.text);
    const list = await lm(g, key, 'GET', '/v2/lm/scenarios/deep-scen/executables');
    assert.equal(list.status, 200, list.text);
    assert.deepEqual(
      list.body.resources.map((e: { id: string }) => e.id),
      ['after-deep'],
    );
  });
});

/**
 * YAML whose parse takes time far beyond its size (the parser's duplicate-key check: this 128 KiB shape took
 * 100 s on one thread) is read on a thread of its own and given up at templateParseTimeoutMs.
 */
describe('AI Core serving templates that take too long to read', { skip: sqlite?.skip ?? 'no sqlite' }, () => {
  let g: TestGantry;
  let key: string;
  before(async () => {
    g = await startTestGantry(sqlite!, { localHost: false, settings: { templateParseTimeoutMs: 1000 } });
    const user = await g.api('POST', '/api/v0/users/', { username: 'slow-yaml', credit: 100 });
    key = user.body.api_key as string;
  });
  after(() => g.dispose());

  it('answers 400 TEMPLATE_INVALID at the bound, and the server answers meanwhile', async () => {
    const slow = lm(g, key, 'POST', '/v2/admin/servingTemplates', { files: [{ name: 'slow.yaml', content: '- a: '.repeat(26_000) }] }, { group: null });
    const health = await g.api('GET', '/healthz');
    assert.equal(health.status, 200, 'another request is answered while the file is read');
    const r = await slow;
    assert.equal(r.status, 400, r.text);
    assert.equal(r.body.error.code, 'TEMPLATE_INVALID');
    assert.match(r.body.error.message as string, /could not be read within 1000 ms \(templateParseTimeoutMs\)/);
  });
});
