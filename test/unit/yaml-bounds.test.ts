import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parse } from 'yaml';
import { MAX_YAML_ALIASES, MAX_YAML_DEPTH, yamlBeyondBounds } from '../../src/control/catalog/yaml-bounds.js';
import { parseTemplateFiles } from '../../src/control/catalog/template-files.js';
import { nestedDeeperThan } from '../../src/api/edge/json-body.js';
import { GantryError } from '../../src/domain/errors.js';
import { chatTemplate, plainTemplate } from '../fixtures/aicore/templates.js';

const TOO_DEEP = `nests mappings and sequences more than ${MAX_YAML_DEPTH} levels deep`;
const flow = (n: number): string => '['.repeat(n) + ']'.repeat(n);
/** `- - - x` on one line: compact block sequences, n deep. */
const compact = (n: number): string => `${'- '.repeat(n)}x\n`;
/** One mapping in the next, each indented one more space, n deep. */
const indented = (n: number): string => `${Array.from({ length: n }, (_, i) => `${' '.repeat(i)}k:`).join('\n')} v\n`;
/** `a1: &a1 [*a0]`...: each alias one level deeper than the last, n deep in all (the mapping is one). */
const aliasChain = (n: number): string => `a0: &a0 []\n${Array.from({ length: n - 2 }, (_, i) => `a${i + 1}: &a${i + 1} [*a${i}]\n`).join('')}`;

function refused(content: string, message: RegExp, name = 't.yaml'): void {
  assert.throws(
    () => parseTemplateFiles([{ name, content }], 'fail'),
    (err: unknown) => err instanceof GantryError && err.code === 'TEMPLATE_INVALID' && message.test(err.message),
  );
}

describe('YAML bounds before composing', () => {
  it('refuses deep flow, compact block and indented block nesting, without recursing (100k levels)', () => {
    for (const text of [flow(100_000), '{a: '.repeat(100_000), compact(100_000), indented(1400)]) assert.equal(yamlBeyondBounds(text), TOO_DEEP);
    // `- a: - a: x` is no YAML: the parser makes it shallow errors, which the composer reports.
    assert.equal(yamlBeyondBounds(`${'- a: '.repeat(1000)}x\n`), null);
  });

  it('accepts the limit itself and refuses one level more, as deep as the JSON edge counts', () => {
    for (const make of [flow, compact, indented, aliasChain]) {
      assert.equal(yamlBeyondBounds(make(MAX_YAML_DEPTH)), null, make.name);
      assert.equal(nestedDeeperThan(parse(make(MAX_YAML_DEPTH)), MAX_YAML_DEPTH), false, make.name);
      assert.equal(yamlBeyondBounds(make(MAX_YAML_DEPTH + 1)), TOO_DEEP, make.name);
      assert.equal(nestedDeeperThan(parse(make(MAX_YAML_DEPTH + 1)), MAX_YAML_DEPTH), true, make.name);
    }
    assert.equal(yamlBeyondBounds('{a: [b, {c: [d]}]}', 4), null);
    assert.equal(yamlBeyondBounds('{a: [b, {c: [{}]}]}', 4), TOO_DEEP.replace(`${MAX_YAML_DEPTH}`, '4'));
    assert.equal(yamlBeyondBounds(`${'[x, '.repeat(10)}${']'.repeat(10)}\n---\n${flow(11)}`, 10), TOO_DEEP.replace(`${MAX_YAML_DEPTH}`, '10'));
  });

  it('counts an alias as deep as the node it names, and refuses cycles, unknown anchors and many aliases', () => {
    assert.equal(yamlBeyondBounds(aliasChain(10_000)), TOO_DEEP);
    assert.equal(yamlBeyondBounds('a: &x [[1]]\nb: [[*x]]\n', 5), null);
    assert.equal(yamlBeyondBounds('a: &x [[1]]\nb: [[[*x]]]\n', 5), TOO_DEEP.replace(`${MAX_YAML_DEPTH}`, '5'));
    // An anchor on a key, a scalar, an empty node: nothing deeper where an alias stands for them.
    assert.equal(yamlBeyondBounds('? &k a\n: &v\nb: [*k, *v]\nc: &s |\n  text\nd: *s\n', 2), null);
    assert.equal(yamlBeyondBounds('&a [*a]'), 'holds the alias *a inside the node it names');
    assert.equal(yamlBeyondBounds('a: {b: &b [c, {d: *b}]}'), 'holds the alias *b inside the node it names');
    assert.equal(yamlBeyondBounds('a: *nope\nb: &nope 1\n'), 'uses the alias *nope before any anchor &nope');
    const many = (n: number): string => `a: &a x\nb: [${Array(n).fill('*a').join(', ')}]\n`;
    assert.equal(yamlBeyondBounds(many(MAX_YAML_ALIASES)), null);
    assert.equal(yamlBeyondBounds(many(MAX_YAML_ALIASES + 1)), `uses more than ${MAX_YAML_ALIASES} aliases in one document`);
    // Anchors belong to their document: the next one starts counting again.
    assert.equal(yamlBeyondBounds(`${many(60)}---\n${many(60)}`), null);
    assert.equal(yamlBeyondBounds('a: &a 1\n---\nb: *a\n'), 'uses the alias *a before any anchor &a');
  });

  it('serving templates: deep or aliased content is TEMPLATE_INVALID naming the file and the limit', () => {
    for (const content of [flow(1000), flow(10_000), compact(5000), indented(1400)]) {
      refused(content, new RegExp(`^t\\.yaml: \\(yaml\\) ${TOO_DEEP}$`));
      refused(content, new RegExp(`^t\\.yaml: \\(yaml\\) ${TOO_DEEP}$`)); // and again: nothing left broken
    }
    refused(`${plainTemplate('one-serve', 'scen-a')}---\n${flow(65)}`, new RegExp(`^two\\.yaml: \\(yaml\\) ${TOO_DEEP}$`), 'two.yaml');
    // Inside the YAML string of spec.template.spec, where the field is named.
    const embedded = chatTemplate().replace('      predictor:\n', `      deep: ${flow(100)}\n      predictor:\n`);
    refused(embedded, /^t\.yaml: spec\.template\.spec does not parse as YAML \(nests mappings and sequences more than 64 levels deep\)$/);
    refused(
      chatTemplate().replace('      predictor:\n', '      deep: &r [*r]\n      predictor:\n'),
      /spec\.template\.spec does not parse as YAML \(holds the alias \*r/,
    );
    // What yaml itself refuses when it converts: an unresolved alias, an exponential expansion (billion laughs).
    refused('a: [*nope]\n', /uses the alias \*nope before any anchor/);
    const laughs = `a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n${Array.from({ length: 8 }, (_, i) => `a${i + 1}: &a${i + 1} [${Array(10).fill(`*a${i}`).join(', ')}]\n`).join('')}`;
    assert.equal(yamlBeyondBounds(laughs), null); // 80 aliases, 10 deep: only the expansion is too much
    refused(laughs, /^t\.yaml: \(yaml\) does not parse: Excessive alias count/);
  });

  it('still reads real templates, anchors and aliases within bounds included', () => {
    const [spec] = parseTemplateFiles([{ name: 'chat.yaml', content: chatTemplate() }], 'fail');
    assert.equal(spec?.id, 'chat-serve');
    const anchored = chatTemplate()
      .replace('      - name: modelName\n', '      - &p\n        name: modelName\n')
      .replace('    artifacts:\n', '    other: *p\n    artifacts:\n');
    const [again] = parseTemplateFiles([{ name: 'chat.yaml', content: anchored }], 'fail');
    assert.equal(again?.parameters[0]?.name, 'modelName');
  });
});
