import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { importWebModule } from '../helpers/web-module.js';

type Format = { money: (v: number, digits?: number) => string; isolate: (name: string) => string };

/** The console's amounts and names in sentences (web/src/ui/format.ts, bundled as the console bundles it). */
describe("the console's text formats", () => {
  let f: Format;
  before(async () => {
    f = await importWebModule<Format>('ui', 'format.ts');
  });

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
