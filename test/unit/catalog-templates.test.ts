import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { bindingsOf, checkBindings, renderWorker } from '../../src/domain/catalog/render.js';
import type { ExecutableSpec } from '../../src/domain/catalog/records.js';
import { parseTemplateFiles } from '../../src/control/catalog/template-files.js';
import { GantryError } from '../../src/domain/errors.js';
import { chatTemplate, plainTemplate } from '../fixtures/aicore/templates.js';

function parseOne(content: string, name = 'templates/chat.yaml'): ExecutableSpec {
  const [spec] = parseTemplateFiles([{ name, content }], 'fail');
  assert.ok(spec);
  return spec;
}

function rejects(content: string, message: RegExp, name = 'templates/chat.yaml'): void {
  assert.throws(
    () => parseTemplateFiles([{ name, content }], 'fail'),
    (err: unknown) => err instanceof GantryError && err.code === 'TEMPLATE_INVALID' && message.test(err.message),
  );
}

describe('serving templates', () => {
  it('reads SAP’s ServingTemplate into an executable', () => {
    const e = parseOne(chatTemplate());
    assert.equal(e.id, 'chat-serve');
    assert.equal(e.scenarioId, 'foundation-models');
    assert.equal(e.scenarioName, 'Chat');
    assert.equal(e.versionId, '1.0');
    assert.deepEqual(e.labels, [{ key: 'ext.ai.sap.com/tier', value: 'small' }]);
    assert.deepEqual(
      e.parameters.map((p) => [p.name, p.default]),
      [
        ['modelName', 'tiny'],
        ['modelVersion', '1'],
        ['greeting', null],
      ],
    );
    assert.deepEqual(e.inputArtifacts, [{ name: 'weights', kind: 'model', description: null }]);
    assert.equal(e.resourcePlan, 'infer.s');
    assert.equal(e.annotations['autoscaling.knative.dev/target'], '1');
    assert.equal(e.predictor.image, 'docker.io/me/chat:1.0');
    assert.deepEqual(e.predictor.ports, [{ containerPort: 9001, protocol: 'TCP' }]);
    assert.equal(e.predictor.maxReplicas, 3);
  });

  it('reads several documents of one file, and skips other kinds for applications', () => {
    const two = `${plainTemplate('one-serve', 'scen-a')}---\n${plainTemplate('two-serve', 'scen-a', '2.0')}---\nkind: WorkflowTemplate\nmetadata: {name: train}\n`;
    assert.deepEqual(
      parseTemplateFiles([{ name: 'a.yaml', content: two }], 'skip').map((e) => e.id),
      ['one-serve', 'two-serve'],
    );
    rejects(two, /a\.yaml \(document 3\): kind must be ServingTemplate/, 'a.yaml');
  });

  it('names the file and the field of what is wrong', () => {
    rejects(
      chatTemplate().replace('image: "docker.io/me/chat:1.0"', 'imagePullPolicy: Always'),
      /^templates\/chat\.yaml: spec\.template\.spec\.predictor\.containers\[0\]\.image is required$/,
    );
    rejects(chatTemplate().replace('scenarios.ai.sap.com/id: "foundation-models"', 'x: y'), /metadata\.labels\['scenarios\.ai\.sap\.com\/id'\] is required/);
    rejects(chatTemplate({ id: 'x' }), /metadata\.name 'x' must be 4-64/);
    rejects(chatTemplate().replace('containerPort: 9001', 'containerPort: 99999'), /containers\[0\]\.ports\[0\]\.containerPort must be an integer/);
    rejects(chatTemplate().replace('minReplicas: 1', 'minReplicas: 5'), /predictor\.maxReplicas \(3\) is below minReplicas \(5\)/);
    rejects(chatTemplate().replace('type: string', 'type: int'), /spec\.inputs\.parameters\[0\]\.type must be 'string'/);
    rejects('kind: ServingTemplate\nmetadata: [unclosed', /templates\/chat\.yaml: \(yaml\) does not parse/);
    rejects(chatTemplate().replace('    spec: |\n      predictor:', '    spec: |\n      predictor: [\n'), /spec\.template\.spec does not parse as YAML/);
  });

  it('refuses a placeholder that names no declared input', () => {
    rejects(
      chatTemplate().replace('{{inputs.parameters.modelName}}', '{{inputs.parameters.nope}}'),
      /containers\[0\]\.args\[0\] uses \{\{inputs\.parameters\.nope\}\}/,
    );
    rejects(chatTemplate().replace('{{inputs.artifacts.weights}}', '{{inputs.artifacts.other}}'), /env\[0\]\.value uses \{\{inputs\.artifacts\.other\}\}/);
  });

  it('refuses one executable id in two files', () => {
    assert.throws(
      () =>
        parseTemplateFiles(
          [
            { name: 'a.yaml', content: plainTemplate('same-serve', 'scen-a') },
            { name: 'b.yaml', content: plainTemplate('same-serve', 'scen-a') },
          ],
          'fail',
        ),
      /b\.yaml: metadata\.name 'same-serve' is the executable of a\.yaml already/,
    );
  });
});

describe('rendering a configuration', () => {
  const e = parseOne(chatTemplate());

  it('fills placeholders from bindings, then defaults; splits command; artifacts reach env', () => {
    const w = renderWorker(e, bindingsOf(e, { parameterBindings: [{ key: 'greeting', value: 'hi' }] }, { weights: 'file:///models/tiny%20v1' }));
    assert.equal(w.entrypoint, '/bin/sh');
    assert.deepEqual(w.args, ['-c', "python serve.py --model tiny --say 'hi'"]);
    assert.equal(w.env.STORAGE_URI, 'file:///models/tiny%20v1');
    assert.equal(w.env.MODEL_VERSION, '1');
    assert.equal(w.env.AICORE_ARTIFACT_WEIGHTS, 'file:///models/tiny%20v1');
    assert.equal(w.env.AICORE_ARTIFACT_WEIGHTS_PATH, '/models/tiny v1');
    assert.equal(w.port, 9001);
    assert.deepEqual(w.model, { name: 'tiny', version: '1' });
    assert.equal(w.resourcePlan, 'infer.s');
  });

  it('a bound value wins over the default; no modelName, no model', () => {
    const w = renderWorker(
      e,
      bindingsOf(
        e,
        {
          parameterBindings: [
            { key: 'modelName', value: 'big' },
            { key: 'greeting', value: '' },
          ],
        },
        { weights: 's3://b/k' },
      ),
    );
    assert.deepEqual(w.model, { name: 'big', version: '1' });
    assert.equal(w.env.AICORE_ARTIFACT_WEIGHTS_PATH, undefined);
    const plain = parseOne(plainTemplate('plain-serve', 'scen-a'));
    const pw = renderWorker(plain, bindingsOf(plain, { parameterBindings: [] }, {}));
    assert.equal(pw.model, null);
    assert.equal(pw.entrypoint, 'node');
    assert.deepEqual(pw.args, ['server.js']);
  });

  it('keeps an env variable named __proto__ (a valid name in a serving template)', () => {
    const own = { ...e, predictor: { ...e.predictor, env: [{ name: '__proto__', value: 'p' }] } };
    const w = renderWorker(own, bindingsOf(own, { parameterBindings: [{ key: 'greeting', value: 'hi' }] }, { weights: 's3://b/k' }));
    assert.deepEqual(Object.entries(w.env), [
      ['AICORE_ARTIFACT_WEIGHTS', 's3://b/k'],
      ['__proto__', 'p'],
    ]);
    assert.equal(Object.getPrototypeOf(w.env), Object.prototype);
  });

  it('a placeholder left without a value is EXECUTABLE_CHANGED', () => {
    assert.throws(
      () => renderWorker(e, bindingsOf(e, { parameterBindings: [] }, { weights: 'file:///m' })),
      (err: unknown) => err instanceof GantryError && err.code === 'EXECUTABLE_CHANGED' && /inputs\.parameters\.greeting/.test(err.message),
    );
  });

  it('checks bindings against the executable', () => {
    const ok = () => checkBindings(e, [{ key: 'greeting', value: 'x' }], [{ key: 'weights', artifactId: 'art-1' }]);
    ok();
    assert.throws(
      () =>
        checkBindings(
          e,
          [
            { key: 'greeting', value: 'x' },
            { key: 'nope', value: '1' },
          ],
          [{ key: 'weights', artifactId: 'a-1' }],
        ),
      /no parameter 'nope'/,
    );
    assert.throws(() => checkBindings(e, [], [{ key: 'weights', artifactId: 'a-1' }]), /'greeting'.*has no default/);
    assert.throws(() => checkBindings(e, [{ key: 'greeting', value: 'x' }], [{ key: 'other', artifactId: 'a-1' }]), /no input artifact 'other'/);
    assert.throws(() => checkBindings(e, [{ key: 'greeting', value: 'x' }], []), /'weights'.*is not bound/);
  });
});
