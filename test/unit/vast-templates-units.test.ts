import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseCreateInstance } from '../../src/api/dialects/vast/parse.js';
import { filterTemplates } from '../../src/api/dialects/vast/templates.js';
import { isRuntype, validateCreate } from '../../src/domain/instance/create.js';
import { templateImage, templateRuntype, type TemplateRecord, type TemplateSpec } from '../../src/domain/instance/template.js';
import { createRequest } from '../helpers/requests.js';

const SPEC: TemplateSpec = {
  name: 't',
  image: 'repo/img',
  tag: '1.0',
  env: '-e A=1 -e B=2 -p 8000:8000',
  onstart: 'echo from-template',
  runtype: 'ssh',
  argsStr: null,
  sshDirect: true,
  jupDirect: false,
  useSsh: true,
  useJupyterLab: false,
  jupyterDir: null,
  dockerLoginRepo: null,
  extraFilters: {},
  recommendedDiskSpace: 12,
  readme: null,
  readmeVisible: true,
  desc: null,
  href: null,
  repo: null,
};
const TEMPLATE: TemplateRecord = { id: 1, accountId: 1, hashId: 'h', private: true, spec: SPEC, createdAt: 0, updatedAt: 0 };

describe('Vast launch modes and templates', () => {
  it('accepts the compound runtypes the clients send, and nothing beside args', () => {
    for (const r of ['ssh', 'args', 'ssh_proxy', 'ssh_direc ssh_proxy', 'jupyter_proxy ssh_proxy', 'jupyter_direc ssh_direc ssh_proxy'])
      assert.ok(isRuntype(r), r);
    for (const r of ['vnc', 'args ssh', 'ssh_proxy bogus', '']) assert.equal(isRuntype(r), false, r);
    assert.equal(validateCreate(createRequest({ runtype: ' ssh_direc   ssh_proxy ' }), 100).runtype, 'ssh_direc ssh_proxy');
  });

  it('args mode: a one-line onstart is the entrypoint (what --entrypoint sends); a script still runs first', () => {
    const r = parseCreateInstance(1001, { runtype: 'args', onstart: 'bash', args: ['-c', 'echo hi; exit 3'] });
    assert.deepEqual([r.onstart, r.entrypoint, r.args], [null, 'bash', ['-c', 'echo hi; exit 3']]);
    const words = parseCreateInstance(1001, { runtype: 'args', onstart: 'python3 -u', args: ['x.py'] });
    assert.deepEqual([words.entrypoint, words.args], ['python3', ['-u', 'x.py']]);
    const script = parseCreateInstance(1001, { runtype: 'args', onstart: 'pip install x; echo ok', args: ['python3', 'x.py'] });
    assert.deepEqual([script.onstart, script.entrypoint, script.args], ['pip install x; echo ok', null, ['python3', 'x.py']]);
    const ssh = parseCreateInstance(1001, { runtype: 'ssh_proxy', onstart: 'bash' });
    assert.deepEqual([ssh.onstart, ssh.entrypoint], ['bash', null]);
  });

  it('a template gives defaults; the body wins and env merges by name', () => {
    const d = parseCreateInstance(1001, { template_hash_id: 'h' }, TEMPLATE);
    assert.equal(d.image, 'repo/img:1.0');
    assert.equal(d.diskGb, 12);
    assert.equal(d.onstart, 'echo from-template');
    assert.equal(d.runtype, 'ssh_direc ssh_proxy');
    assert.deepEqual(d.env, { env: { A: '1', B: '2' }, ports: [{ containerPort: 8000, proto: 'tcp' }] });
    const o = parseCreateInstance(
      1001,
      { image: 'other', disk: 3, env: { B: 'x', C: '3', '-p 9000:9000': '1' }, onstart: 'sleep 1', runtype: 'args' },
      TEMPLATE,
    );
    assert.deepEqual([o.image, o.diskGb, o.onstart, o.runtype], ['other', 3, null, 'args']);
    assert.equal(o.entrypoint, 'sleep');
    assert.deepEqual(o.env.env, { A: '1', B: 'x', C: '3' });
    assert.deepEqual(
      o.env.ports.map((p) => p.containerPort),
      [8000, 9000],
    );
    assert.equal(templateImage({ ...SPEC, image: 'img:2' }), 'img:2');
    assert.equal(templateRuntype({ ...SPEC, runtype: 'jupyter', jupDirect: true }), 'jupyter_direc ssh_direc ssh_proxy');
    assert.equal(templateRuntype({ ...SPEC, runtype: 'jupyter' }), 'jupyter_proxy ssh_proxy');
  });

  it('search templates filters rows by Vast operators (strings with "_" for " ")', () => {
    const rows = [
      { id: 1, name: 'my tpl', use_ssh: true, recommended_disk_space: 8 },
      { id: 2, name: 'other', use_ssh: false, recommended_disk_space: 20 },
    ];
    const ids = (f: unknown): unknown[] => filterTemplates(rows, f).map((r) => r.id);
    assert.deepEqual(ids('{"name":{"eq":"my_tpl"}}'), [1]);
    assert.deepEqual(ids({ use_ssh: { eq: false } }), [2]);
    assert.deepEqual(ids({ recommended_disk_space: { gt: '10' } }), [2]);
    assert.deepEqual(ids({ id: { in: ['1', '2'] } }), [1, 2]);
    assert.deepEqual(ids({ id: { notin: [1] } }), [2]);
    assert.deepEqual(ids({}), [1, 2]);
    assert.throws(() => ids({ id: { like: 1 } }), /Unknown operator/);
  });
});
