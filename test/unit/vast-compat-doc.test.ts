import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import { readmeCountLine, renderCompatDoc, type Expected } from '../compat/expected.js';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const expected = JSON.parse(readFileSync(join(root, 'test', 'compat', 'vast-verbs.expected.json'), 'utf8')) as Expected;

describe('the Vast compatibility record and its docs agree', () => {
  it('docs/vast-compat.md is made from test/compat/vast-verbs.expected.json (`npm run docs`)', () => {
    assert.equal(readFileSync(join(root, 'docs', 'vast-compat.md'), 'utf8'), renderCompatDoc(expected));
  });

  it("the README states the record's count of passing verbs", () => {
    assert.ok(readFileSync(join(root, 'README.md'), 'utf8').includes(readmeCountLine(expected)), `README.md lacks: ${readmeCountLine(expected)}`);
  });
});
