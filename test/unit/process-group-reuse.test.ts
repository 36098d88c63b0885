import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { workloadBaseEnv } from '../../src/config/load.js';
import { killChildGroup } from '../../src/runtime/process/first-signal.js';
import { instanceProcs, readGroup, startTicksOf, type ProcInfo } from '../../src/runtime/process/proc-table.js';
import { ProcessRuntime } from '../../src/runtime/process/process-runtime.js';
import type { WorkloadSpec } from '../../src/runtime/runtime.js';
import { testImage } from '../helpers/docker.js';

const proc = (pid: number, pgrp: number, startTicks: number, own = false): ProcInfo => ({
  pid,
  ppid: 1,
  pgrp,
  state: 'S',
  startTicks,
  cpuTicks: 0,
  rssPages: 0,
  runtimeId: own ? 'rt' : null,
  instanceId: own ? 7 : null,
  uid: null,
});
const pids = (table: ProcInfo[], text: string): number[] => {
  const [pgid = '', ticks = ''] = text.split(' ');
  return instanceProcs(table, 'rt', 7, readGroup(pgid, ticks), null).map((p) => p.pid);
};

/**
 * An instance's recorded process group was taken as the workload's whatever led it: once the workload had ended,
 * a process that got the same id and led a group of its own was the instance's to a look (running) and to a stop
 * or destroy (signalled: another program, or another tenant's workload, ended).
 */
describe("a process group that reused an ended workload's group id", () => {
  it('is not the instance: only the leader with the recorded start time is, or, with none, what is left of the group', () => {
    const reused = [proc(500, 500, 999), proc(501, 500, 1000)];
    assert.deepEqual(pids(reused, '500 100'), [], 'another leader with that id');
    const ours = [proc(500, 500, 100), proc(501, 500, 120)];
    assert.deepEqual(pids(ours, '500 100'), [500, 501]);
    const orphans = [proc(501, 500, 120)];
    assert.deepEqual(pids(orphans, '500 100'), [501], 'the leader ended; the group cannot have been reused while it has members');
    // Recorded before start times were: a leader with the workload's labels.
    assert.deepEqual(pids(reused, '500'), []);
    assert.deepEqual(pids([proc(500, 500, 1, true), proc(501, 500, 2)], '500'), [500, 501]);
    assert.equal(readGroup(''), null);
    assert.equal(readGroup('1', '5'), null, 'never init');
    assert.deepEqual(readGroup('42\n', '7\n'), { pgid: 42, leaderTicks: 7 });
    assert.deepEqual(readGroup('42', ''), { pgid: 42, leaderTicks: null });
  });

  it("with a uid per instance, another uid's process labelled as the instance is not the instance's (a tenant's own)", () => {
    const labelled = (pid: number, uid: number): ProcInfo => ({ ...proc(pid, pid, 1, true), uid });
    const table = [labelled(600, 1_000_007), labelled(601, 0), labelled(602, 1_000_008)];
    // Instance 7 runs as uid 1000007; bwrap, outside and in, as root; 602 is instance 8's, labelled as 7 by its tenant.
    assert.deepEqual(
      instanceProcs(table, 'rt', 7, null, 1_000_007).map((p) => p.pid),
      [600, 601],
    );
    assert.deepEqual(
      instanceProcs(table, 'rt', 7, null, null).map((p) => p.pid),
      [600, 601, 602],
      'without uids, labels are all there is',
    );
  });

  describe('through the process runtime, with a real group standing in for the reuser', () => {
    let root: string;
    let rt: ProcessRuntime;
    let stranger: ReturnType<typeof spawn>;
    before(async () => {
      root = await mkdtemp(join(tmpdir(), 'gantry-pgid-'));
      rt = await ProcessRuntime.open({ root, killWaitMs: 2000, pollMs: 25, baseEnv: workloadBaseEnv() });
      stranger = spawn('sleep', ['60'], { detached: true, stdio: 'ignore' });
      await new Promise((r) => stranger.once('spawn', r));
    });
    after(async () => {
      stranger.kill('SIGKILL');
      await rt.close();
      await rm(root, { recursive: true, force: true });
    });

    it("neither looks running nor is signalled by the instance's stop, and a start starts it", async () => {
      const spec: WorkloadSpec = {
        instanceId: 1,
        image: testImage(),
        env: {},
        onstart: 'sleep 600',
        command: [],
        runtype: 'ssh',
        gpuIndices: [],
        ports: [],
        sshKeys: [],
      };
      await rt.start(spec);
      const meta = join(root, '1', 'meta');
      // The workload ends (stopped here; it may as well have exited long ago).
      assert.deepEqual(await rt.stop(1, { graceMs: 2_000 }), { state: 'absent' });
      const recorded = readGroup(await readFile(join(meta, 'pgid'), 'utf8'), await readFile(join(meta, 'leader-start'), 'utf8'));
      assert.ok(recorded !== null && recorded.leaderTicks !== null, 'the start recorded its leader with its start time');
      // The workload ended; its group id now leads another group (the stranger, its own leader).
      const pid = stranger.pid as number;
      await writeFile(join(meta, 'pgid'), String(pid));
      await writeFile(join(meta, 'leader-start'), String((startTicksOf(pid) ?? 0) + 1));
      assert.notEqual((await rt.inspect(1)).state, 'running');
      await rt.stop(1, { graceMs: 200 });
      assert.equal(stranger.exitCode, null, 'the stranger was not signalled');
      assert.equal(stranger.signalCode, null);
      assert.notEqual(startTicksOf(pid), null);
      // Not taken for a workload still running ("adopt"): a start starts it.
      await rt.start(spec);
      assert.equal((await rt.inspect(1)).state, 'running');
      const now = readGroup(await readFile(join(meta, 'pgid'), 'utf8'));
      assert.notEqual(now?.pgid, pid, 'a group of its own');
      await rt.stop(1, { graceMs: 2_000 });
      assert.equal(stranger.exitCode, null);
    });
  });

  it("an exec session's kill after it ended leaves a process that took its id alone", async () => {
    const stranger = spawn('sleep', ['60'], { detached: true, stdio: 'ignore' });
    await new Promise((r) => stranger.once('spawn', r));
    try {
      // The session's child ended; the stranger now has its id (and leads the group of that id).
      killChildGroup({ pid: stranger.pid, exitCode: 0, signalCode: null });
      await new Promise((r) => setTimeout(r, 100));
      assert.equal(stranger.exitCode ?? stranger.signalCode, null, 'not signalled');
      // While the child runs, its group is killed.
      killChildGroup(stranger);
      await new Promise((r) => stranger.once('exit', r));
      assert.equal(stranger.signalCode, 'SIGKILL');
    } finally {
      stranger.kill('SIGKILL');
    }
  });
});
