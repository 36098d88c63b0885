import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { KyselyStore } from '../../src/store/kysely/kysely-store.js';
import type { NewInstance, Store } from '../../src/store/store.js';
import { machineReg } from '../helpers/machines.js';
import { TEST_STORES } from '../helpers/stores.js';

/** SSH access in the store: a port of its own beside the workload's, and the account's keys attached at create. */
for (const ts of TEST_STORES) {
  describe(`store contract, SSH access: ${ts.name}`, { skip: ts.skip }, () => {
    let dir: string;
    let store: Store;
    let accountId: number;
    let machineId: number;
    const newInstance = (o: Partial<NewInstance> = {}): NewInstance => ({
      accountId,
      machineId,
      numGpus: 1,
      image: 'img',
      env: {},
      requestedPorts: [{ containerPort: 8080, proto: 'tcp' }],
      onstart: null,
      entrypoint: null,
      args: null,
      runtype: 'ssh',
      label: null,
      diskGb: 10,
      offerType: 'on-demand',
      bidPrice: null,
      dphBase: 0.3,
      storageCost: 0.1,
      target: 'running',
      instanceKeyHash: (id) => `hash-${id}-${Math.random()}`,
      now: 1000,
      ...o,
    });

    before(async () => {
      dir = await mkdtemp(join(tmpdir(), 'gantry-store-ssh-'));
      store = new KyselyStore(ts.dialect(await ts.fresh(dir)));
      await store.migrate();
      accountId = (await store.createAccount({ username: 'u', email: 'u@x', isAdmin: false, now: 1 })).id;
      machineId = (await store.registerMachine(machineReg('host-ssh', accountId), Date.now())).id;
    });
    after(async () => {
      await store.close();
      await rm(dir, { recursive: true, force: true });
    });

    it("allocates the SSH port apart from the workload's ports and attaches the account's keys", async () => {
      const key = await store.createSshKey(accountId, 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIE1 a@b', 1);
      const inst = await store.createInstance(newInstance({ sshPort: true, attachAccountSshKeys: true }));
      assert.deepEqual(
        inst.ports.map((p) => p.containerPort),
        [8080],
      );
      assert.ok(inst.sshPort !== null && !inst.ports.some((p) => p.hostPort === inst.sshPort));
      assert.deepEqual(
        (await store.instanceSshKeys(inst.id)).map((k) => k.id),
        [key.id],
      );
      const plain = await store.createInstance(newInstance());
      assert.equal(plain.sshPort, null);
      await store.attachSshKey(plain.id, key.id);
      assert.deepEqual(await store.sshKeyHolders(key.id), [inst.id, plain.id], 'the instances holding the key, in one query');
      assert.notEqual((await store.listInstances({ accountId })).find((i) => i.id === inst.id)?.sshPort, null);
    });

    it('gives an instance made without an SSH port one later, once, apart from the ports in use', async () => {
      const old = await store.createInstance(newInstance());
      assert.equal(old.sshPort, null);
      const taken = new Set(
        (await store.listInstances({ accountId })).flatMap((i) => [...i.ports.map((p) => p.hostPort), ...(i.sshPort === null ? [] : [i.sshPort])]),
      );
      const busy = new Set([Math.max(...taken) + 1]);
      const port = await store.giveSshPort(old.id, busy);
      assert.ok(port !== null && !taken.has(port) && !busy.has(port), String(port));
      assert.equal((await store.getInstance(old.id))?.sshPort, port);
      assert.deepEqual((await store.getInstance(old.id))?.ports, old.ports, "the workload's ports stay as they were");
      assert.equal(await store.giveSshPort(old.id, new Set()), port);
    });
  });
}
