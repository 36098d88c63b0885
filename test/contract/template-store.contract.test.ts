import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { TemplateSpec } from '../../src/domain/instance/template.js';
import { KyselyStore } from '../../src/store/kysely/kysely-store.js';
import type { Store } from '../../src/store/store.js';
import { machineReg } from '../helpers/machines.js';
import { TEST_STORES } from '../helpers/stores.js';

const SPEC: TemplateSpec = {
  name: 'n',
  image: 'img',
  tag: null,
  env: '-e A=1',
  onstart: 'echo hi',
  runtype: 'ssh',
  argsStr: null,
  sshDirect: true,
  jupDirect: false,
  useSsh: true,
  useJupyterLab: false,
  jupyterDir: null,
  dockerLoginRepo: null,
  extraFilters: { num_gpus: { eq: 1 } },
  recommendedDiskSpace: 8,
  readme: null,
  readmeVisible: true,
  desc: 'd',
  href: null,
  repo: null,
};

/** The templates part of the store port, one behaviour for every adapter. */
for (const ts of TEST_STORES) {
  describe(`template store contract: ${ts.name}`, { skip: ts.skip }, () => {
    let dir: string;
    let store: Store;
    let a: number;
    let b: number;

    before(async () => {
      dir = await mkdtemp(join(tmpdir(), 'gantry-template-store-'));
      store = new KyselyStore(ts.dialect(await ts.fresh(dir)));
      await store.migrate();
      a = (await store.createAccount({ username: 'a', email: 'a@x', isAdmin: false, now: 1 })).id;
      b = (await store.createAccount({ username: 'b', email: 'b@x', isAdmin: false, now: 1 })).id;
    });
    after(async () => {
      await store.close();
      await rm(dir, { recursive: true, force: true });
    });

    it('keeps content, finds by hash (own first, then public), edits in place and hides deleted ones', async () => {
      const own = await store.createTemplate({ accountId: a, hashId: 'h1', private: true, spec: SPEC, now: 10 });
      const pub = await store.createTemplate({ accountId: b, hashId: 'h1', private: false, spec: { ...SPEC, name: 'p' }, now: 11 });
      await store.createTemplate({ accountId: b, hashId: 'h2', private: true, spec: SPEC, now: 12 });
      assert.deepEqual(own.spec, SPEC);
      assert.equal(own.private, true);
      assert.equal(own.createdAt, 10);
      assert.deepEqual(
        (await store.findTemplatesByHash('h1', a)).map((t) => t.id),
        [own.id, pub.id],
      );
      assert.deepEqual(
        (await store.findTemplatesByHash('h1', b)).map((t) => t.id),
        [pub.id],
        "another account's private template is not found",
      );
      assert.deepEqual((await store.findTemplatesByHash('h2', a)).length, 0);
      assert.deepEqual(
        (await store.listVisibleTemplates(a)).map((t) => t.id),
        [own.id, pub.id],
      );

      assert.equal(await store.updateTemplate(own.id, { hashId: 'h3', private: false, spec: { ...SPEC, onstart: 'v2' }, now: 20 }), true);
      const edited = await store.getTemplate(own.id);
      assert.equal(edited?.hashId, 'h3');
      assert.equal(edited?.private, false);
      assert.equal(edited?.spec.onstart, 'v2');
      assert.equal(edited?.updatedAt, 20);
      assert.equal((await store.findTemplatesByHash('h1', a)).length, 1);

      assert.equal(await store.deleteTemplate(own.id, 30), true);
      assert.equal(await store.deleteTemplate(own.id, 31), false, 'deleting twice changes nothing');
      assert.equal(await store.getTemplate(own.id), undefined);
      assert.equal(await store.updateTemplate(own.id, { hashId: 'h4', private: true, spec: SPEC, now: 40 }), false);
      assert.deepEqual(
        (await store.listVisibleTemplates(a)).map((t) => t.id),
        [pub.id],
      );
    });

    it('records the template an instance was made from; rewrites its workload in place', async () => {
      const machineId = (await store.registerMachine(machineReg('host-t', a), Date.now())).id;
      const inst = await store.createInstance({
        accountId: a,
        machineId,
        numGpus: 1,
        image: 'img',
        env: { A: '1' },
        requestedPorts: [],
        onstart: 'echo',
        entrypoint: null,
        args: null,
        runtype: 'ssh',
        label: null,
        diskGb: 1,
        offerType: 'on-demand',
        bidPrice: null,
        dphBase: 0.3,
        storageCost: 0.1,
        target: 'running',
        instanceKeyHash: (id) => `hash-${id}`,
        template: { id: 7, hashId: 'h-made', name: 'made from' },
        now: 1000,
      });
      assert.deepEqual(inst.template, { id: 7, hashId: 'h-made', name: 'made from' });
      await store.setInstanceWorkload(inst.id, { image: 'new', env: { B: '2' }, onstart: null, entrypoint: 'bash', args: ['-c', 'x'], runtype: 'args' });
      assert.deepEqual((await store.getInstance(inst.id))?.template, { id: 7, hashId: 'h-made', name: 'made from' }, 'an update without a template keeps it');
      await store.setInstanceWorkload(inst.id, {
        image: 'new',
        env: { B: '2' },
        onstart: null,
        entrypoint: 'bash',
        args: ['-c', 'x'],
        runtype: 'args',
        template: { id: 8, hashId: 'h-next', name: null },
      });
      const got = await store.getInstance(inst.id);
      assert.deepEqual(got?.template, { id: 8, hashId: 'h-next', name: null });
      assert.deepEqual((await store.listInstances({ accountId: a })).find((i) => i.id === inst.id)?.template, got?.template);
      assert.equal(got?.image, 'new');
      assert.deepEqual(got?.env, { B: '2' });
      assert.equal(got?.onstart, null);
      assert.equal(got?.entrypoint, 'bash');
      assert.deepEqual(got?.args, ['-c', 'x']);
      assert.equal(got?.runtype, 'args');
      assert.equal(got?.generation, inst.generation, 'the restart is a separate intent');
    });
  });
}
