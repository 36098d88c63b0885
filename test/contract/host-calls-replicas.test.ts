import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { GantryError } from '../../src/domain/errors.js';
import type { ControlPlane } from '../../src/control/control-plane.js';
import { followHostCalls } from '../../src/control/host-calls.js';
import type { HostLink } from '../../src/control/hosts/hosts.js';
import { LOG_HOST_CALLS } from '../../src/control/instances/request-logs.js';
import type { Principal } from '../../src/control/principal.js';
import { LINK_HOST_CALLS, reachHost } from '../../src/control/reach-host.js';
import type { StorageCommand } from '../../src/runtime/storage.js';
import type { KyselyStore } from '../../src/store/kysely/kysely-store.js';
import type { CopyOrder, CopyReport } from '../../src/control/hosts/copy-order.js';
import { COPY_CANCELLED } from '../../src/domain/instance/copy-path.js';
import { copyHostCalls } from '../../src/control/instances/instance-copy.js';
import { instanceRow, joinHost, replicaPlane } from '../helpers/replica.js';
import { TEST_STORES } from '../helpers/stores.js';

/**
 * Calls on a host made through a replica its agent does not talk to (instance logs, and the `link` calls:
 * worker logs, execute, copies, volumes, snapshots): that replica writes the call to the database, the
 * agent's replica runs it and stores the answer (PostgreSQL: replicas share one database; one SQLite server
 * holds every session itself).
 */
for (const ts of TEST_STORES) {
  const skip = ts.skip !== false ? ts.skip : ts.name !== 'postgres' ? 'replicas share a PostgreSQL database' : false;
  describe(`host calls across replicas (${ts.name})`, { skip }, () => {
    let dir: string;
    let location: string;
    let a: ControlPlane;
    let b: ControlPlane;
    let away: ControlPlane;
    let admin: Principal;
    let instanceId: number;
    let machineId: number;
    let unfollow: () => void;
    const stores: KyselyStore[] = [];
    let logs: (id: number, tail: number) => Promise<string> = async () => '';
    // Copies the host runs: each waits until the test ends it.
    const copies: { order: CopyOrder; end: (r: CopyReport | Error) => void }[] = [];
    const storageCalls: StorageCommand[] = [];
    // The host's link as replica A holds it: what the test's calls reach.
    const link = {
      logs: (id: number, tail: number) => logs(id, tail),
      logLines: async (id: number) => [{ at: 5, stream: 'stdout', text: `line of ${id}` }],
      exec: async (id: number, argv: readonly string[]) => ({ code: 0, output: `ran ${argv.join(' ')} in ${id}` }),
      copyGrant: async (id: number, ttlMs: number) => ({ privateKey: `key-${id}-${ttlMs}`, hostKey: 'hk' }),
      cancelCopies: async () => 2,
      copy: (order: CopyOrder) =>
        new Promise<CopyReport>((resolve, reject) => copies.push({ order, end: (r) => (r instanceof Error ? reject(r) : resolve(r)) })),
      storage: async (cmd: StorageCommand) => {
        storageCalls.push(cmd);
        if (cmd.kind === 'listVolumes') return [777];
        if (cmd.kind === 'deleteVolume') return { freedMb: 12.5 };
        if (cmd.kind === 'snapshot') return { kind: 'archive', ref: cmd.ref, path: '/snap.tar', sizeMb: 3 };
        throw new GantryError('SNAPSHOT_UNAVAILABLE', 'not this one', { instanceId });
      },
    };

    before(async () => {
      dir = await mkdtemp(join(tmpdir(), 'gantry-host-calls-'));
      location = await ts.fresh(dir);
      a = await replicaPlane(ts, stores, location, dir, {});
      b = await replicaPlane(ts, stores, location, dir, { agentCallTimeoutMs: 2_000 });
      // A replica that judges every host offline: it has nobody to ask.
      away = await replicaPlane(ts, stores, location, dir, {}, { machineOnlineWindowMs: 1 });
      await a.bootstrapAdmin('admin-key');
      admin = await a.authenticate('admin-key');
      const { welcome } = await joinHost(a, admin.accountId, 'calls-a', 36600);
      // Replica A holds the host's session; the host answers logs as the test says.
      machineId = welcome.machineId;
      a.ctx.hosts.set(machineId, link as unknown as HostLink);
      instanceId = await instanceRow(a, admin.accountId, machineId);
      unfollow = followHostCalls(a.ctx, { ...LOG_HOST_CALLS, ...LINK_HOST_CALLS, ...copyHostCalls(a.ctx) });
    });

    /** An instance of the admin on the host, running with SSH access (what a copy needs). */
    async function runningWithSsh(): Promise<number> {
      const store = a.ctx.store;
      const now = Date.now();
      const id = await instanceRow(a, admin.accountId, machineId, { sshPort: true });
      const [c] = await store.claimInstances({ owner: 't', now, leaseMs: 1, observeBefore: now + 1, limit: 1, dueIds: [id], onlyDue: true });
      assert.equal(c?.id, id);
      const write = { status: 'running' as const, statusMsg: null, exitCode: null, observedGeneration: c.generation, pendingOpDone: true, now };
      assert.ok(await store.applyObservation(id, c.leaseToken as string, write));
      return id;
    }

    /** The destination's status_msg once it no longer says the copy runs. */
    async function copyEnded(id: number): Promise<string | null> {
      for (let i = 0; i < 500; i++) {
        const msg = (await a.ctx.store.getInstance(id))?.statusMsg ?? null;
        if (msg === null || !msg.endsWith(': running')) return msg;
        await new Promise((r) => setTimeout(r, 20));
      }
      assert.fail(`the copy into ${id} still reads running`);
    }
    after(async () => {
      unfollow();
      a.agents.close();
      b.agents.close();
      away.agents.close();
      for (const s of stores) await s.close();
      await rm(dir, { recursive: true, force: true });
    });

    it("reads an instance's logs through the agent's replica, filtered and cut there, and fetched from either", async () => {
      logs = async (id, tail) => (id === instanceId ? ['one', 'two error', 'three', 'four error'].slice(-tail).join('\n') + '\n' : '');
      const { token } = await b.requestLogs(admin, instanceId, { tail: 1, filter: 'error' });
      assert.equal(await b.fetchResult(token), 'four error\n');
      assert.equal(await a.fetchResult(token), 'four error\n');
    });

    it('runs the calls of the host link through the agent replica, answers as the link gave them', async () => {
      const host = await reachHost(b.ctx, machineId);
      assert.ok(host !== undefined);
      assert.deepEqual(await host.exec(instanceId, ['ls', '-l'], { timeoutMs: 1_000, maxBytes: 100 }), { code: 0, output: `ran ls -l in ${instanceId}` });
      assert.deepEqual(await host.logLines(instanceId, { tail: 5 }), [{ at: 5, stream: 'stdout', text: `line of ${instanceId}` }]);
      assert.deepEqual(await host.copyGrant(instanceId, 900), { privateKey: `key-${instanceId}-900`, hostKey: 'hk' });
      assert.equal(await host.cancelCopies(instanceId), 2);
      // Answers between replicas (a copy grant's key among them) are never a result URL's.
      await assert.rejects(a.fetchResult('anything.answer'), { code: 'RESULT_NOT_FOUND' });
      // The use cases on top: cleanup machine and a snapshot, through replica B.
      const cleaned = await b.volumes.cleanupMachine(admin, machineId);
      assert.deepEqual(cleaned.removedVolumes, [777]);
      assert.equal(cleaned.freedMb, 12.5);
      const snap = await b.volumes.takeSnapshot(admin, instanceId, { repo: 'mine:v1', registry: null, pause: false });
      assert.deepEqual([snap.kind, snap.ref, snap.path, snap.sizeMb], ['archive', 'mine:v1', '/snap.tar', 3]);
      assert.deepEqual(
        storageCalls.map((c) => c.kind),
        ['listVolumes', 'deleteVolume', 'snapshot'],
      );
    });

    it("records a copy's end on the agent's replica, so the replica asked may stop meanwhile; a cancel the host reports reads cancelled", async () => {
      const [src, dst] = [await runningWithSsh(), await runningWithSsh()];
      const body = { src: src, dst: dst, srcPath: '/data', dstPath: '/in' };
      const hostGot = async (n: number): Promise<NonNullable<(typeof copies)[number]>> => {
        for (let i = 0; i < 500 && copies.length < n; i++) await new Promise((r) => setTimeout(r, 10));
        const c = copies[n - 1];
        assert.ok(c !== undefined, 'the host got the copy');
        return c;
      };
      // Asked through a replica of its own (a pool of its own on PostgreSQL), which stops before the copy ends.
      const asked = await replicaPlane(ts, stores, location, dir, {});
      let n = copies.length + 1;
      assert.match((await asked.copyData(admin, body)).msg, /started/);
      const first = await hostGot(n);
      assert.deepEqual([first.order.src.instanceId, first.order.dst.instanceId, first.order.via], [src, dst, null]);
      assert.equal((await a.ctx.store.getInstance(dst))?.statusMsg, `copy from C.${src}:/data to /in: running`);
      asked.agents.close();
      await stores.at(-1)!.close();
      stores.pop();
      first.end({ bytes: 42 });
      assert.equal(await copyEnded(dst), `copy from C.${src}:/data to /in: done, 42 bytes`);
      // Cancelled on the host (a cancel through any replica): it reads "cancelled", not "failed".
      n = copies.length + 1;
      await b.copyData(admin, body);
      (await hostGot(n)).end(new Error(COPY_CANCELLED));
      assert.equal(await copyEnded(dst), `copy from C.${src}:/data to /in: cancelled`);
      // Any other failure reads as one, with the host's reason.
      n = copies.length + 1;
      await b.copyData(admin, body);
      (await hostGot(n)).end(new Error('reading /data failed: no such file'));
      assert.equal(await copyEnded(dst), `copy from C.${src}:/data to /in: failed: reading /data failed: no such file`);
    });

    it('keeps the code of an error the host answered, says what the host cannot do, and finds no host where it is offline', async () => {
      const host = await reachHost(b.ctx, machineId);
      await assert.rejects(host!.storage({ kind: 'cloneVolume', fromId: 1, toId: 2 }), { code: 'SNAPSHOT_UNAVAILABLE', message: 'not this one' });
      const { exec } = link;
      delete (link as Partial<typeof link>).exec;
      try {
        await assert.rejects(host!.exec(instanceId, ['ls'], { timeoutMs: 1_000, maxBytes: 100 }), {
          code: 'NO_SSH_ACCESS',
          message: `The host of machine ${machineId} cannot run commands in its instances.`,
        });
      } finally {
        link.exec = exec;
      }
      assert.equal(await reachHost(away.ctx, machineId), undefined);
      await assert.rejects(away.volumes.cleanupMachine(admin, machineId), { code: 'HOST_UNAVAILABLE', message: /is not connected/ });
    });

    it("says the host's own reason when the logs could not be read, and HOST_UNAVAILABLE when no replica answers or takes a call in time", async () => {
      logs = () => Promise.reject(new Error('the engine is not running'));
      await assert.rejects(b.requestLogs(admin, instanceId, { tail: 5, filter: null }), {
        code: 'HOST_RUNTIME_FAILED',
        message: `The host of machine ${machineId} reported: the engine is not running`,
      });
      unfollow();
      unfollow = () => undefined;
      await assert.rejects(b.requestLogs(admin, instanceId, { tail: 5, filter: null }), {
        code: 'HOST_UNAVAILABLE',
        message: /did not answer .* within 2000 ms/,
      });
      // A call bounded by a step (two minutes and more) that no replica took is withdrawn after agentCallTimeoutMs.
      const host = await reachHost(b.ctx, machineId);
      await assert.rejects(host!.storage({ kind: 'listVolumes' }), { code: 'HOST_UNAVAILABLE', message: /did not answer .* within 2000 ms/ });
      assert.deepEqual(await b.ctx.store.takeHostCalls([machineId], Date.now()), [], 'the call was withdrawn: it never runs late');
    });
  });
}
