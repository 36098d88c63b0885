import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import { SETTINGS, envName } from '../../src/config/schema.js';
import { ERROR_CODES } from '../../src/domain/errors.js';

const root = fileURLToPath(new URL('../../../', import.meta.url));

describe('docs stay in sync with the code', () => {
  it('docs/errors.md lists every error code, and nothing else', () => {
    const doc = readFileSync(join(root, 'docs', 'errors.md'), 'utf8');
    const documented = [...doc.matchAll(/^\| `([A-Z_]+)` \|/gm)].map((m) => m[1]);
    assert.deepEqual(documented.sort(), Object.keys(ERROR_CODES).sort());
    assert.equal(Object.keys(ERROR_CODES).length, 146, 'a new code needs a doc line (and this count bumped)');
  });

  it('docs/config.md lists every setting with its environment variable', () => {
    const doc = readFileSync(join(root, 'docs', 'config.md'), 'utf8');
    const documented = [...doc.matchAll(/^\| `([a-zA-Z][a-zA-Z0-9]*)` \|/gm)].map((m) => m[1]);
    assert.deepEqual(documented.sort(), Object.keys(SETTINGS).sort());
    for (const k of Object.keys(SETTINGS)) assert.ok(doc.includes(envName(k)), `docs/config.md lacks ${envName(k)}`);
  });
});
