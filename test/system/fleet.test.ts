import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { workloadBaseEnv } from '../../src/config/load.js';
import { ProcessRuntime } from '../../src/runtime/process/process-runtime.js';
import { freePort, GANTRY_BIN } from '../helpers/cli.js';
import { startTestGantry, type TestGantry } from '../helpers/gantry.js';
import { TEST_STORES } from '../helpers/stores.js';

/**
 * Three real `gantry agent` processes (own data dirs, own host tokens) against one control plane over
 * loopback: rent across them, SIGKILL one (offline, hidden from search, instance `offline`, workload
 * alive), bring it back (adopted, nothing duplicated), then restart the control plane under all of them.
 */
// These agents' workloads write their pid for the test to watch from the host: outside a sandbox's PID
// namespace (the sandbox itself, restarts included, is test/system/process-sandbox.test.ts).
const UNSANDBOXED = { GANTRY_PROCESS_SANDBOX: 'off', GANTRY_UNSAFE_SHARED_PROCESS_RUNTIME: 'true' };
const FLEET = { heartbeatIntervalMs: 200, machineOfflineMs: 1500, sweepIntervalMs: 200, agentPollWaitMs: 1000, machineCacheMs: 0 };

interface AgentProc {
  dir: string;
  token: string;
  child: ChildProcess | null;
  log: string;
  /** From the agent's "Agent is up: machine N" line. */
  machineId: number | null;
}

const until = async <T>(what: string, f: () => Promise<T | null | undefined | false>, ms = 20_000): Promise<T> => {
  const end = Date.now() + ms;
  for (;;) {
    const v = await f();
    if (v !== null && v !== undefined && v !== false) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
};

/** A live process (a zombie waiting for its reaper does not count). */
const alive = async (pid: number): Promise<boolean> => {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => null);
  return stat !== null && !/^\d+ \(.*\) [ZX] /.test(stat);
};

for (const ts of TEST_STORES) {
  describe(`fleet of three agents (${ts.name})`, { skip: ts.skip, timeout: 120_000 }, () => {
    let g: TestGantry;
    let port: number;
    const agents: AgentProc[] = [];
    const instanceOf = new Map<number, number>(); // machine id → instance id
    const pidOf = new Map<number, number>(); // instance id → workload pid

    const spawnAgent = (a: AgentProc): void => {
      a.child = spawn(process.execPath, [GANTRY_BIN, 'agent', '--server', `http://127.0.0.1:${port}`, '--token', a.token, '--data-dir', a.dir], {
        env: { PATH: process.env.PATH, GANTRY_GPUS: '2x T4:16GB', GANTRY_RUNTIME: 'process', GANTRY_LOG_LEVEL: 'warn', ...UNSANDBOXED },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      a.child.stdout?.on('data', (d: Buffer) => {
        a.log += d.toString();
        const m = /Agent is up: machine (\d+)/.exec(a.log);
        if (m) a.machineId = Number(m[1]);
      });
      a.child.stderr?.on('data', (d: Buffer) => (a.log += d.toString()));
    };
    const agentOf = (machineId: number): AgentProc => {
      const a = agents.find((x) => x.machineId === machineId);
      assert.ok(a, `no agent reported machine ${machineId}`);
      return a;
    };
    const machines = async (): Promise<Record<string, any>[]> => (await g.api('GET', '/api/v0/machines/')).body.machines as Record<string, any>[];
    const offers = async (): Promise<Record<string, any>[]> =>
      (await g.api('POST', '/api/v0/bundles/', { limit: 1000, verified: { eq: true } })).body.offers as Record<string, any>[];
    const start = async (o: { database?: string | null; dataDir?: string } = {}): Promise<TestGantry> =>
      startTestGantry(ts, { localHost: false, settings: { ...FLEET, port }, ...o });

    before(async () => {
      port = await freePort();
      g = await start();
      for (let i = 0; i < 3; i++) {
        const r = await g.api('POST', '/api/v0/host_tokens/', { name: `agent-${i}` });
        assert.equal(r.status, 200);
        agents.push({ dir: await mkdtemp(join(tmpdir(), `gantry-agent${i}-`)), token: r.body.token as string, child: null, log: '', machineId: null });
      }
      for (const a of agents) spawnAgent(a);
    });

    after(async () => {
      for (const a of agents) a.child?.kill('SIGKILL');
      await g.dispose();
      for (const a of agents) {
        const rt = await ProcessRuntime.open({ root: join(a.dir, 'instances'), killWaitMs: 1000, pollMs: 25, baseEnv: workloadBaseEnv() });
        for (const id of await rt.list()) await rt.destroy(id, { graceMs: 200 });
        await rm(a.dir, { recursive: true, force: true });
      }
    });

    it('three machines join, are offered, and take one rental each', async () => {
      const ms = await until('three machines online', async () => {
        const m = await machines();
        return m.length === 3 && m.every((x) => x.online === true) && agents.every((a) => a.machineId !== null) && m;
      });
      assert.deepEqual(
        ms.map((m) => m.num_gpus),
        [2, 2, 2],
      );
      assert.ok(
        ms.every((m) => m.runtype === 'process' && m.verified === true),
        'an admin host token gives verified machines',
      );
      for (const m of ms) {
        const r = await g.api('PUT', `/api/v0/asks/${(m.id as number) * 1000 + 1}/`, { image: 'x', onstart: 'echo $$ > pid; exec sleep 300', runtype: 'ssh' });
        assert.equal(r.status, 200, r.text);
        instanceOf.set(m.id as number, r.body.new_contract as number);
      }
      for (const [, id] of instanceOf) await g.waitInstance(id, (r) => r.actual_status === 'running');
      for (const [m, id] of instanceOf) {
        const a = agentOf(m);
        const pid = Number(await until('pid file', () => readFile(join(a.dir, 'instances', String(id), 'disk', 'pid'), 'utf8').catch(() => null)));
        pidOf.set(id, pid);
        assert.ok(await alive(pid));
      }
      const left = await offers();
      assert.deepEqual(left.map((o) => o.num_gpus).sort(), [1, 1, 1], 'each machine has one GPU left');
    });

    it('an agent killed with SIGKILL: machine offline, offers gone, instance offline, workload still alive', async () => {
      agentOf(2).child?.kill('SIGKILL');
      const id = instanceOf.get(2) as number;
      await until('machine 2 offline', async () => (await machines()).find((m) => m.id === 2)?.online === false);
      await until('offers of machine 2 gone', async () => (await offers()).every((o) => o.machine_id !== 2));
      const row = await g.waitInstance(id, (r) => r.actual_status === 'offline');
      assert.match(String(row.status_msg), /host offline/);
      assert.ok(await alive(pidOf.get(id) as number), 'the workload does not depend on its agent');
      const again = await g.api('PUT', '/api/v0/asks/2001/', { image: 'x', onstart: 'sleep 1' });
      assert.ok(again.status === 404 || again.status === 409, `renting an offline machine is refused (${again.status})`);
      assert.equal((await g.waitInstance(instanceOf.get(1) as number, (r) => r.actual_status === 'running')).actual_status, 'running');
    });

    it('the agent comes back: the instance is adopted (same process), nothing is duplicated or lost', async () => {
      spawnAgent(agentOf(2));
      const id = instanceOf.get(2) as number;
      await g.waitInstance(id, (r) => r.actual_status === 'running');
      await until('machine 2 offered again', async () => (await offers()).some((o) => o.machine_id === 2));
      assert.ok(await alive(pidOf.get(id) as number), 'the same workload process, not a new one');
      const rows = (await g.api('GET', '/api/v0/instances/')).body.instances as Record<string, unknown>[];
      assert.equal(rows.length, 3);
      assert.ok(rows.every((r) => r.actual_status === 'running'));
      assert.deepEqual((await offers()).map((o) => o.num_gpus).sort(), [1, 1, 1], 'still one GPU free per machine: no double booking');
      assert.equal((await machines()).length, 3, 'the same machine row, not a new one');
    });

    it('the control plane restarts under the agents: they reconnect, workloads keep running, rentals work', async () => {
      const { dataDir, database } = g;
      await g.close();
      g = await start({ dataDir, database });
      await until('three machines online after the restart', async () => {
        const m = await machines();
        return m.length === 3 && m.every((x) => x.online === true);
      });
      for (const [, id] of instanceOf) {
        await g.waitInstance(id, (r) => r.actual_status === 'running');
        assert.ok(await alive(pidOf.get(id) as number), `instance ${id} kept its process`);
      }
      // A heartbeat that arrives late on a busy machine shows machine 3 offline for a moment: the rental
      // is retried while the answer is exactly that, so the test waits for the fact, not for time.
      const r = await until('machine 3 rents after the restart', async () => {
        const a = await g.api('PUT', '/api/v0/asks/3001/', { image: 'x', onstart: 'echo hello; exec sleep 300', runtype: 'ssh' });
        return a.status === 409 && String(a.text).includes('offline') ? null : a;
      });
      assert.equal(r.status, 200, r.text);
      await g.waitInstance(r.body.new_contract as number, (x) => x.actual_status === 'running');
      const stop = await g.api('PUT', `/api/v0/instances/${instanceOf.get(1)}/`, { state: 'stopped' });
      assert.equal(stop.status, 200);
      await g.waitInstance(instanceOf.get(1) as number, (x) => x.actual_status === 'stopped');
      assert.equal(await alive(pidOf.get(instanceOf.get(1) as number) as number), false, 'a stop on a remote host really stops');
    });
  });
}
