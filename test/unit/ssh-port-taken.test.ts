import assert from 'node:assert/strict';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { connect, createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { dispatch } from '../../src/agent/dispatch.js';
import { readResults } from '../../src/api/agent/messages.js';
import { AgentSession } from '../../src/control/hosts/agent-session.js';
import { isGantryError } from '../../src/domain/errors.js';
import type { Runtime, WorkloadSpec } from '../../src/runtime/runtime.js';
import { reservePortBlock } from '../helpers/ports.js';
import { openTestSshAccess } from '../helpers/ssh-access.js';

const hold = (port: number): Promise<Server> =>
  new Promise((resolve, reject) => {
    const s = createServer((c) => c.end('impostor\n'));
    s.once('error', reject);
    s.listen({ port, host: '127.0.0.1' }, () => resolve(s));
  });
const refused = (port: number): Promise<boolean> =>
  new Promise((resolve) => {
    const s = connect(port, '127.0.0.1', () => (s.destroy(), resolve(false)));
    s.once('error', () => resolve(true));
  });
const spec = (port: number): WorkloadSpec => ({ instanceId: 1, sshPort: port, sshKeys: [], env: {} }) as unknown as WorkloadSpec;

/** A start whose SSH port another program holds (ssh-access.ts `starting`, dispatch.ts). */
describe('an instance started while another program holds its SSH port', () => {
  it('is refused by the agent before its workload runs, with a code the control plane acts on', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'gantry-ssh-taken-'));
    const ports = reservePortBlock();
    const impostor = await hold(ports.start);
    const started: number[] = [];
    const rt = { name: 'fake', start: (s: WorkloadSpec) => void started.push(s.instanceId) } as unknown as Runtime;
    const access = await openTestSshAccess(dir);
    try {
      await assert.rejects(dispatch(rt, { id: 'c1', op: 'start', spec: spec(ports.start) }, access), (err: unknown) => {
        assert.ok(isGantryError(err) && err.code === 'SSH_PORT_TAKEN', String(err));
        assert.match(err.message, new RegExp(`SSH port ${ports.start} is held by another program on this host`));
        return true;
      });
      assert.deepEqual(started, [], 'the workload did not start');
      // The port given up is not kept for this agent's next start: one opened on this data dir listens nowhere.
      const again = await openTestSshAccess(dir);
      await again.close();
      assert.equal(await stat(join(dir, 'ssh', '1.json')).catch(() => null), null, 'no record of the taken port');
      // On a free port it starts, SSH first.
      await dispatch(rt, { id: 'c2', op: 'start', spec: spec(ports.start + 1) }, access);
      assert.deepEqual(started, [1]);
      assert.equal(await refused(ports.start + 1), false, 'the agent listens on the new port');
      // A start with no port (none could be given) drops the record of the last one.
      await dispatch(rt, { id: 'c3', op: 'start', spec: { ...spec(ports.start + 1), sshPort: null } }, access);
      assert.equal(await stat(join(dir, 'ssh', '1.json')).catch(() => null), null, 'no record of the port it no longer has');
      assert.equal(await refused(ports.start + 1), true, 'nor a listener');
    } finally {
      await access.close();
      await new Promise((resolve) => impostor.close(resolve));
      ports.release();
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('stops listening when the runtime then fails the start', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'gantry-ssh-taken-'));
    const ports = reservePortBlock();
    const rt = { name: 'fake', start: () => Promise.reject(new Error('spawn failed')) } as unknown as Runtime;
    const access = await openTestSshAccess(dir);
    try {
      await assert.rejects(dispatch(rt, { id: 'c1', op: 'start', spec: spec(ports.start) }, access), /spawn failed/);
      assert.equal(await refused(ports.start), true, 'nothing listens for a workload that did not start');
    } finally {
      await access.close();
      ports.release();
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("reaches the control plane as that code; no other code a host gives is taken as the control plane's own", async () => {
    const s = new AgentSession(1, null, { callTimeoutMs: 5000, stepTimeoutMs: 5000, connectedWindowMs: 60_000, heartbeatWindowMs: 60_000 }, Date.now);
    const taken = s.start(spec(41000));
    const other = s.start(spec(41001));
    const [a, b] = await s.take(0, 10);
    const msg = readResults(
      {
        machineId: 1,
        session: s.id,
        seq: 1,
        results: [
          { id: a?.id, ok: false, value: null, error: 'SSH port 41000 is held by another program on this host', code: 'SSH_PORT_TAKEN' },
          { id: b?.id, ok: false, value: null, error: 'gone', code: 'HOST_UNAVAILABLE' },
        ],
      },
      '',
    );
    s.settle(msg.results);
    await assert.rejects(taken, (err: unknown) => isGantryError(err) && err.code === 'SSH_PORT_TAKEN');
    await assert.rejects(other, (err: unknown) => !isGantryError(err) && (err as Error).message === 'gone');
  });
});
