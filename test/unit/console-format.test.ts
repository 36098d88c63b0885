import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { build } from 'esbuild';

type Format = { money: (v: number, digits?: number) => string; isolate: (name: string) => string };

/** The console's amounts and names in sentences (web/src/ui/format.ts, bundled as the console bundles it). */
describe("the console's text formats", () => {
  let dir: string;
  let f: Format;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'gantry-web-format-'));
    const root = fileURLToPath(new URL('../../../', import.meta.url));
    const out = await build({ entryPoints: [join(root, 'web', 'src', 'ui', 'format.ts')], bundle: true, format: 'esm', platform: 'neutral', write: false });
    await writeFile(join(dir, 'format.mjs'), out.outputFiles[0]!.text);
    f = (await import(pathToFileURL(join(dir, 'format.mjs')).href)) as Format;
  });
  after(() => rm(dir, { recursive: true, force: true }));

  it('writes a negative amount with its sign before the dollar sign', () => {
    assert.equal(f.money(-0.01), '-$0.0100');
    assert.equal(f.money(12.5), '$12.5000');
    assert.equal(f.money(-1.5, 2), '-$1.50');
    assert.equal(f.money(0), '$0.0000');
    // Rounded to nothing, it has no sign.
    assert.equal(f.money(-0.00001), '$0.0000');
  });

  it('isolates a name from the sentence around it (FSI … PDI), dropping the direction controls inside it', () => {
    assert.equal(f.isolate('a\u202eb'), '\u2068ab\u2069');
    // An embedded PDI would close the isolate early and let the override after it reach the sentence.
    assert.equal(f.isolate('x\u2069\u202eevil'), '\u2068xevil\u2069');
  });
});
